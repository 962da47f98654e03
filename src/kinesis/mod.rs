//! Everything that models or talks to Kinesis itself: hash keys, the shard map, the KPL record
//! format (written by the producer, read by the reader), targets and SDK clients, stream
//! administration, and the embedded server.

pub mod admin;
pub mod client;
pub mod embedded;
pub mod hash_key;
pub mod kpl_format;
pub mod local;
pub mod open;
pub mod reader;
pub mod reshard;
pub mod server_metrics;
pub mod shard_map;
