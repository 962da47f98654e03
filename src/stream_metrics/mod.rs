//! What the stream saw, per shard, from a source other than kwb's own producer: the embedded
//! server's counts (1-second periods, `kinesis::server_metrics`) or CloudWatch's shard-level
//! metrics (1-minute periods, `cloudwatch`). One shape for both, with gaps where a source has no
//! data (a gap is not a zero).

pub mod cloudwatch;

use crate::kinesis::client::{Connection, Target};
use crate::kinesis::server_metrics::{self, ServerSnapshot, SERVER_HISTORY_SECS};
use crate::kinesis::shard_map::list_shards;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Where server-side metrics come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The embedded server's own counts (every client of it, 1-second periods).
    Server,
    /// CloudWatch's shard-level metrics (enhanced monitoring, 1-minute periods).
    Cloudwatch,
}

impl Source {
    /// The embedded server's own counts on the embedded target, CloudWatch elsewhere.
    pub fn default_for(target: &Target) -> Source {
        match target {
            Target::Embedded { .. } => Source::Server,
            _ => Source::Cloudwatch,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Source::Server => "server",
            Source::Cloudwatch => "cloudwatch",
        }
    }
}

/// One value per period, oldest first; `None` where the source has no data.
pub type Series = Vec<Option<f64>>;

/// A shard's series over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardSeries {
    pub incoming_records: Series,
    pub incoming_bytes: Series,
    pub write_throttled: Series,
    /// The read side (the embedded server only; empty from CloudWatch).
    pub outgoing_records: Series,
    pub outgoing_bytes: Series,
    pub read_throttled: Series,
}

impl ShardSeries {
    /// Every series `n` periods of `value` long.
    pub fn filled(value: Option<f64>, n: usize) -> ShardSeries {
        let series = vec![value; n];
        ShardSeries {
            incoming_records: series.clone(),
            incoming_bytes: series.clone(),
            write_throttled: series.clone(),
            outgoing_records: series.clone(),
            outgoing_bytes: series.clone(),
            read_throttled: series,
        }
    }
}

/// Sum of the values present.
pub fn total(series: &Series) -> f64 {
    series.iter().flatten().sum()
}

/// Every shard's series over one window, from one source.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamMetrics {
    pub stream: String,
    pub source: Source,
    /// Length of one value's period.
    pub period: Duration,
    pub shards: BTreeMap<String, ShardSeries>,
    /// Stream-level metrics by CloudWatch name (CloudWatch only).
    pub stream_level: BTreeMap<String, Series>,
}

impl StreamMetrics {
    /// The embedded server's counts: every second is a value (the server counts, so no traffic
    /// is a real zero).
    pub fn from_server(snapshot: ServerSnapshot) -> StreamMetrics {
        let values = |v: Vec<u64>| v.into_iter().map(|n| Some(n as f64)).collect();
        StreamMetrics {
            stream: snapshot.stream,
            source: Source::Server,
            period: Duration::from_secs(1),
            shards: snapshot
                .shards
                .into_iter()
                .map(|(id, s)| {
                    (
                        id,
                        ShardSeries {
                            incoming_records: values(s.incoming_records),
                            incoming_bytes: values(s.incoming_bytes),
                            write_throttled: values(s.write_throttled),
                            outgoing_records: values(s.outgoing_records),
                            outgoing_bytes: values(s.outgoing_bytes),
                            read_throttled: values(s.read_throttled),
                        },
                    )
                })
                .collect(),
            stream_level: BTreeMap::new(),
        }
    }
}

/// Why a stream's metrics could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("--minutes {minutes}: the server keeps {limit} minutes per shard (use 1 to {limit})")]
    TooLong { minutes: usize, limit: usize },
    #[error("--source server reads the counts of a kwb server (the embedded default or an endpoint running `kwb serve`); {target} has none: use --source cloudwatch")]
    NoServer { target: String },
    #[error("could not list the shards of {stream:?}: {message}")]
    Shards { stream: String, message: String },
    #[error(transparent)]
    Server(#[from] server_metrics::FetchError),
    #[error(transparent)]
    CloudWatch(#[from] cloudwatch::CloudWatchError),
}

/// The last `minutes` minutes of every shard of `stream`, from `source`. Shards without traffic
/// are listed too: with zeros from the server (it counts), with gaps from CloudWatch.
pub async fn read(
    connection: &Connection,
    stream: &str,
    source: Source,
    minutes: usize,
) -> Result<StreamMetrics, ReadError> {
    let shards: Vec<String> = list_shards(&connection.admin, stream)
        .await
        .map_err(|e| ReadError::Shards {
            stream: stream.to_string(),
            message: crate::errors::describe(&e),
        })?
        .shards()
        .iter()
        .map(|s| s.shard_id.clone())
        .collect();
    // The same bound as every control-plane call (--api-timeout).
    let timeout = connection
        .admin
        .config()
        .timeout_config()
        .and_then(|t| t.operation_timeout())
        .unwrap_or(std::time::Duration::from_secs(10));
    match source {
        Source::Server => {
            let limit = SERVER_HISTORY_SECS / 60;
            if !(1..=limit).contains(&minutes) {
                return Err(ReadError::TooLong { minutes, limit });
            }
            let endpoint = match &connection.target {
                Target::Embedded { endpoint } | Target::Endpoint { endpoint } => endpoint,
                Target::Aws { .. } => {
                    return Err(ReadError::NoServer {
                        target: connection.target.to_string(),
                    })
                }
            };
            let seconds = minutes * 60;
            let m = server_metrics::fetch(endpoint, stream, seconds, timeout).await?;
            let mut m = StreamMetrics::from_server(m);
            for shard in shards {
                m.shards
                    .entry(shard)
                    .or_insert_with(|| ShardSeries::filled(Some(0.0), seconds));
            }
            Ok(m)
        }
        Source::Cloudwatch => {
            let window = cloudwatch::Window::last_minutes(std::time::SystemTime::now(), minutes);
            let endpoint = connection.cloudwatch_endpoint.as_deref();
            let client = cloudwatch::client(&connection.sdk, endpoint, timeout);
            Ok(cloudwatch::fetch(&client, stream, &shards, window)
                .await
                .map_err(|e| e.at(endpoint))?)
        }
    }
}

/// The shard-level metrics kwb reads that are off for the stream (enhanced monitoring), if any
/// are; `None` when all are on or the stream cannot be described.
pub async fn shard_metrics_off(connection: &Connection, stream: &str) -> Option<Vec<&'static str>> {
    let summary = crate::kinesis::admin::describe(&connection.admin, stream)
        .await
        .ok()?;
    let on = &summary.shard_level_metrics;
    let missing: Vec<&'static str> = cloudwatch::SHARD_METRICS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !on.iter().any(|m| m == name || m == "ALL"))
        .collect();
    (!missing.is_empty()).then_some(missing)
}

/// Turns on the shard-level metrics kwb reads (enhanced monitoring, billed by AWS per shard and
/// metric); returns what is on now. The local server has none to turn on.
pub async fn enable_shard_metrics(
    connection: &Connection,
    stream: &str,
) -> anyhow::Result<Vec<String>> {
    if !connection.has_cloudwatch() {
        anyhow::bail!("the local server has no CloudWatch, so no shard-level metrics to turn on: its own per-shard counts are always on (kwb metrics, s in the workbench)");
    }
    let names: Vec<&str> = cloudwatch::SHARD_METRICS.iter().map(|(n, _)| *n).collect();
    Ok(crate::kinesis::admin::enable_shard_metrics(&connection.admin, stream, &names).await?)
}

/// Reads again every `every` until `on` says stop (returns false). The latest reading wins: one
/// still running when the next is due is dropped, so a slow source never builds a queue.
pub async fn watch(
    connection: &Connection,
    stream: &str,
    source: Source,
    minutes: usize,
    every: std::time::Duration,
    mut on: impl FnMut(Result<StreamMetrics, ReadError>) -> bool,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        tokio::select! {
            reading = read(connection, stream, source, minutes) => {
                if !on(reading) {
                    return;
                }
            }
            _ = tick.tick() => tick.reset_immediately(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinesis::server_metrics::ShardSeries as ServerSeries;

    #[test]
    fn server_counts_become_gapless_series_and_totals_skip_gaps() {
        let mut snapshot = ServerSnapshot {
            stream: "s".into(),
            seconds: 2,
            ..ServerSnapshot::default()
        };
        snapshot.shards.insert(
            "shardId-1".into(),
            ServerSeries {
                incoming_records: vec![0, 3],
                incoming_bytes: vec![0, 30],
                write_throttled: vec![1, 0],
                ..ServerSeries::default()
            },
        );
        let m = StreamMetrics::from_server(snapshot);
        assert_eq!(m.source, Source::Server);
        assert_eq!(
            m.shards["shardId-1"].incoming_records,
            vec![Some(0.0), Some(3.0)]
        );
        assert_eq!(total(&vec![Some(2.0), None, Some(1.5)]), 3.5);
    }
}
