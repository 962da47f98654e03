//! Everything that models or talks to Kinesis itself: hash keys, the shard map, targets and SDK
//! clients, stream administration, and the embedded server.

pub mod admin;
pub mod client;
pub mod embedded;
pub mod hash_key;
pub mod local;
pub mod reader;
pub mod server_metrics;
pub mod shard_map;
