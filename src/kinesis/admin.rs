//! Stream administration: names, existence, creation and waiting for a stream to be usable.

use crate::producer::sender::describe;
use aws_sdk_kinesis::error::SdkError;
use aws_sdk_kinesis::types::StreamStatus;
use aws_sdk_kinesis::Client;
use std::time::{Duration, Instant};

pub const MAX_SHARDS_EMBEDDED: u32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "stream name {0:?} is invalid: it must be 1 to 128 characters of a-z, A-Z, 0-9, _ . -"
    )]
    BadStreamName(String),
    #[error("--shards {0} is out of range: 1 to {MAX_SHARDS_EMBEDDED}")]
    BadShardCount(u32),
    #[error("stream {0:?} does not exist")]
    NotFound(String),
    #[error("stream {0:?} did not become ACTIVE within {1} s")]
    NotActive(String, u64),
    #[error("the target did not answer: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Service(String),
}

pub fn validate_stream_name(name: &str) -> Result<(), AdminError> {
    let ok = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AdminError::BadStreamName(name.to_string()))
    }
}

/// The stream's status, or `None` when it does not exist.
pub async fn stream_status(
    client: &Client,
    name: &str,
) -> Result<Option<StreamStatus>, AdminError> {
    match client
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .stream_description_summary()
            .map(|d| d.stream_status().clone())),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e @ (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_))) => {
            Err(AdminError::Unreachable(describe(&e)))
        }
        Err(e) => Err(AdminError::Service(describe(&e))),
    }
}

/// Makes sure the stream exists (creating it with `shards` shards if `create` allows) and is
/// ACTIVE.
pub async fn ensure_stream(
    client: &Client,
    name: &str,
    shards: u32,
    create: bool,
) -> Result<(), AdminError> {
    validate_stream_name(name)?;
    if stream_status(client, name).await?.is_none() {
        if !create {
            return Err(AdminError::NotFound(name.to_string()));
        }
        if !(1..=MAX_SHARDS_EMBEDDED).contains(&shards) {
            return Err(AdminError::BadShardCount(shards));
        }
        client
            .create_stream()
            .stream_name(name)
            .shard_count(shards as i32)
            .send()
            .await
            .map_err(|e| AdminError::Service(describe(&e)))?;
    }
    wait_active(client, name, Duration::from_secs(120)).await
}

async fn wait_active(client: &Client, name: &str, limit: Duration) -> Result<(), AdminError> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(20);
    loop {
        match stream_status(client, name).await? {
            Some(StreamStatus::Active) => return Ok(()),
            None => return Err(AdminError::NotFound(name.to_string())),
            Some(_) if start.elapsed() >= limit => {
                return Err(AdminError::NotActive(name.to_string(), limit.as_secs()))
            }
            Some(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        assert!(validate_stream_name("kwb-demo_1.x").is_ok());
        assert!(validate_stream_name(&"s".repeat(128)).is_ok());
        for bad in ["", "has space", "slash/y", &"s".repeat(129)] {
            assert!(validate_stream_name(bad).is_err(), "{bad:?}");
        }
    }
}
