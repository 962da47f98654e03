//! kinesis-workbench (`kwb`): a workbench for Amazon Kinesis Data Streams.
//!
//! The data flows one way through the crate:
//!
//! ```text
//! user record -> kinesis::hash_key (MD5 or explicit hash key)
//!             -> kinesis::shard_map (predicted shard)
//!             -> kinesis::kpl_format (KPL aggregate per shard)
//!             -> producer::limiter (per-shard token buckets, adapts to throttling)
//!             -> producer::collector (PutRecords batches)
//!             -> producer::sender (aws-sdk-kinesis, SDK retries off)
//!             -> producer::outcome (exactly one per user record) / producer::retry
//!             -> producer::metrics (per-shard 1 s buckets, read as snapshots)
//! ```
//!
//! `errors` formats an error chain for people; `per_second` is the 1-second counter ring every
//! live metric uses. `kinesis` owns everything that talks to or models the service (clients,
//! targets, the embedded ferrokinesis server, stream admin); `producer` owns the KPL-style
//! pipeline; `compose` makes records; `hot_keys` finds the keys that make a shard hot; `cli` owns the
//! command line, `tui` the workbench and `demo` the guided scenarios run in it or headless.

pub mod agent;
pub mod cli;
pub mod compose;
pub mod config;
pub mod demo;
pub mod errors;
pub mod hot_keys;
pub mod kinesis;
pub mod per_second;
pub mod producer;
pub mod stream_metrics;
pub mod tui;
