//! Composing what to send: partition-key strategies and record payloads.

pub mod keys;
pub mod payload;
pub mod template;
