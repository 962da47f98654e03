//! Stream administration: names, existence, creation and waiting for a stream to be usable.

use crate::errors::describe as describe_error;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
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
    #[error("stream {0:?} already exists")]
    AlreadyExists(String),
    #[error("stream {0:?} did not become ACTIVE within {1} s")]
    NotActive(String, u64),
    #[error("the target did not answer: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Service(String),
}

/// Maps an SDK error of a call on stream `name`: a missing stream, a target that did not answer,
/// or whatever else the service said.
fn admin_error<E, R>(name: &str, error: SdkError<E, R>) -> AdminError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match &error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            AdminError::Unreachable(describe_error(&error))
        }
        _ if error.code() == Some("ResourceNotFoundException") => {
            AdminError::NotFound(name.to_string())
        }
        _ => AdminError::Service(describe_error(&error)),
    }
}

/// What `DescribeStreamSummary` says about a stream, in the terms kwb shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StreamSummary {
    pub name: String,
    pub arn: String,
    pub status: String,
    /// PROVISIONED or ON_DEMAND.
    pub mode: String,
    pub open_shards: i32,
    pub retention_hours: i32,
    pub encryption: String,
    /// Shard-level metrics enabled by enhanced monitoring.
    pub shard_level_metrics: Vec<String>,
    pub consumers: Option<i32>,
    /// Largest record the stream accepts, where the service says.
    pub max_record_size_kib: Option<i32>,
    /// USER_PARTITION_KEY (keys choose shards), or AUTO (the service places records itself).
    pub record_distribution: String,
    /// An on-demand stream's current write capacity (its warm throughput), where the service
    /// says.
    pub write_capacity_mibps: Option<i32>,
}

/// What a producer needs to know of a stream beyond its shards.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StreamFacts {
    /// Kinesis manages its shards: no splitting, merging or scaling by hand.
    pub on_demand: bool,
    /// The service places records itself and ignores partition keys and explicit hash keys.
    pub auto_distribution: bool,
    /// Largest record (key + data) it accepts, where the service says.
    pub max_record_bytes: Option<usize>,
    pub write_capacity_mibps: Option<i32>,
}

impl StreamSummary {
    pub fn facts(&self) -> StreamFacts {
        StreamFacts {
            on_demand: self.mode == "ON_DEMAND",
            auto_distribution: self.record_distribution == "AUTO",
            max_record_bytes: self
                .max_record_size_kib
                .and_then(|k| usize::try_from(k).ok())
                .map(|k| k * 1024),
            write_capacity_mibps: self.write_capacity_mibps,
        }
    }
}

/// Why resharding by hand is refused for an on-demand stream.
pub fn on_demand_refusal(name: &str) -> String {
    format!(
        "stream {name} is on-demand: Kinesis adds and removes its shards itself, and SplitShard, MergeShards and UpdateShardCount need a provisioned stream (aws kinesis update-stream-mode --stream-arn ARN --stream-mode-details StreamMode=PROVISIONED)"
    )
}

/// Describes a stream.
pub async fn describe(client: &Client, name: &str) -> Result<StreamSummary, AdminError> {
    let answer = client
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
        .map_err(|e| admin_error(name, e))?;
    let d = answer.stream_description_summary().ok_or_else(|| {
        AdminError::Service("DescribeStreamSummary returned no description".into())
    })?;
    Ok(StreamSummary {
        name: d.stream_name().to_string(),
        arn: d.stream_arn().to_string(),
        status: d.stream_status().as_str().to_string(),
        mode: d
            .stream_mode_details()
            .map_or("PROVISIONED", |m| m.stream_mode().as_str())
            .to_string(),
        open_shards: d.open_shard_count(),
        retention_hours: d.retention_period_hours(),
        encryption: d
            .encryption_type()
            .map_or("NONE", |e| e.as_str())
            .to_string(),
        shard_level_metrics: d
            .enhanced_monitoring()
            .iter()
            .flat_map(|m| m.shard_level_metrics())
            .map(|m| m.as_str().to_string())
            .collect(),
        consumers: d.consumer_count(),
        max_record_size_kib: d.max_record_size_in_kib(),
        record_distribution: d
            .record_distribution_strategy()
            .map_or("USER_PARTITION_KEY", |r| r.as_str())
            .to_string(),
        write_capacity_mibps: d.warm_throughput().and_then(|w| w.current_mibps()),
    })
}

/// Turns on shard-level metrics (enhanced monitoring) for `metrics`; returns what is now on.
pub async fn enable_shard_metrics(
    client: &Client,
    name: &str,
    metrics: &[&str],
) -> Result<Vec<String>, AdminError> {
    let answer = client
        .enable_enhanced_monitoring()
        .stream_name(name)
        .set_shard_level_metrics(Some(metrics.iter().map(|m| (*m).into()).collect()))
        .send()
        .await
        .map_err(|e| admin_error(name, e))?;
    Ok(answer
        .desired_shard_level_metrics()
        .iter()
        .map(|m| m.as_str().to_string())
        .collect())
}

/// Every stream name, all pages.
pub async fn list_streams(client: &Client) -> Result<Vec<String>, AdminError> {
    let mut names: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        // Pages go on from the NextToken, or, from servers that give none, from the last name
        // (the older ExclusiveStartStreamName way).
        let after = token.is_none().then(|| names.last().cloned()).flatten();
        let page = client
            .list_streams()
            .set_next_token(token.take())
            .set_exclusive_start_stream_name(after)
            .send()
            .await
            .map_err(|e| AdminError::Service(describe_error(&e)))?;
        let before = names.len();
        names.extend(page.stream_names().iter().cloned());
        token = page.next_token().map(str::to_string);
        if !page.has_more_streams() || (token.is_none() && names.len() == before) {
            return Ok(names);
        }
    }
}

/// How a new stream is provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Shards(u32),
    OnDemand,
}

/// Creates a stream and waits until it is ACTIVE.
pub async fn create_stream(
    client: &Client,
    name: &str,
    capacity: Capacity,
) -> Result<(), AdminError> {
    validate_stream_name(name)?;
    let request = client.create_stream().stream_name(name);
    let request = match capacity {
        Capacity::Shards(n) if (1..=MAX_SHARDS_EMBEDDED).contains(&n) => {
            request.shard_count(n as i32)
        }
        Capacity::Shards(n) => return Err(AdminError::BadShardCount(n)),
        Capacity::OnDemand => request.stream_mode_details(
            aws_sdk_kinesis::types::StreamModeDetails::builder()
                .stream_mode(aws_sdk_kinesis::types::StreamMode::OnDemand)
                .build()
                .map_err(|e| AdminError::Service(e.to_string()))?,
        ),
    };
    request.send().await.map_err(|e| {
        if e.as_service_error()
            .is_some_and(|s| s.is_resource_in_use_exception())
        {
            AdminError::AlreadyExists(name.to_string())
        } else {
            AdminError::Service(describe_error(&e))
        }
    })?;
    wait_active(client, name, Duration::from_secs(120)).await
}

/// Deletes a stream.
pub async fn delete_stream(client: &Client, name: &str) -> Result<(), AdminError> {
    validate_stream_name(name)?;
    client
        .delete_stream()
        .stream_name(name)
        .enforce_consumer_deletion(true)
        .send()
        .await
        .map_err(|e| admin_error(name, e))?;
    Ok(())
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
    match describe(client, name).await {
        Ok(summary) => Ok(Some(StreamStatus::from(summary.status.as_str()))),
        Err(AdminError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What `ensure_stream` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// The stream was there.
    Existed,
    /// It was missing and this call created it.
    Created,
}

/// Makes sure the stream exists (creating it with `shards` shards if `create` allows) and is
/// ACTIVE.
pub async fn ensure_stream(
    client: &Client,
    name: &str,
    shards: u32,
    create: bool,
) -> Result<Ensured, AdminError> {
    validate_stream_name(name)?;
    let wait = || wait_active(client, name, Duration::from_secs(120));
    match stream_status(client, name).await? {
        None if create => match create_stream(client, name, Capacity::Shards(shards)).await {
            Ok(()) => Ok(Ensured::Created),
            // Another command created it since it was looked up.
            Err(AdminError::AlreadyExists(_)) => wait().await.map(|()| Ensured::Existed),
            Err(error) => Err(error),
        },
        None => Err(AdminError::NotFound(name.to_string())),
        Some(_) => wait().await.map(|()| Ensured::Existed),
    }
}

/// Waits until the stream is ACTIVE, for at most `limit`.
pub async fn wait_active(client: &Client, name: &str, limit: Duration) -> Result<(), AdminError> {
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
