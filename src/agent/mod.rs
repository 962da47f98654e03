//! `kwb agent`: log files into a stream, as the Kinesis Agent does. So far: its configuration,
//! read from either form a user of the agent already has (`config`); the tailer comes next.

pub mod config;
