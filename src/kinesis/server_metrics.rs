//! The embedded server's own per-shard metrics: what every client of the endpoint put and read,
//! counted at the server in 1-second buckets — CloudWatch's shard-level IncomingRecords,
//! IncomingBytes, WriteProvisionedThroughputExceeded, OutgoingRecords, OutgoingBytes and
//! ReadProvisionedThroughputExceeded, at 1-second resolution and for any client.
//!
//! A layer around the server's HTTP app hands each PutRecord/PutRecords/GetRecords request and
//! its answer to a counting task and sends the answer on at once, so counting costs the request
//! nothing: accepted records count on the shard the answer names, throttled ones on the shard
//! their hash key falls in, records read on the shard their iterator names. `GET /kwb/metrics?stream=NAME&seconds=N` goes through the same task (after
//! everything observed before it) and publishes the counts as JSON on the same loopback port, so
//! another kwb process (the workbench, `kwb metrics`) can read them.

use crate::kinesis::embedded::MAX_REQUEST_BODY_BYTES;
use crate::kinesis::hash_key::HashKey;
use crate::per_second::Ring;
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferrokinesis::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Where the counts are published.
pub const METRICS_PATH: &str = "/kwb/metrics";
/// Seconds of history the server keeps per shard.
pub const SERVER_HISTORY_SECS: usize = 600;
/// How long a stream's hash-key ranges are trusted before they are read again.
const RANGES_TTL: Duration = Duration::from_secs(1);
const THROTTLED: &str = "ProvisionedThroughputExceededException";

/// What is counted per shard, in the order of the ring's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    IncomingRecords,
    IncomingBytes,
    WriteThrottled,
    OutgoingRecords,
    OutgoingBytes,
    ReadThrottled,
}

const METRICS: usize = 6;

/// One shard's per-second series, oldest first (the last entry is the current second).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSeries {
    /// Records accepted.
    pub incoming_records: Vec<u64>,
    /// Bytes accepted: partition key plus data, as the shard's write limit counts them.
    pub incoming_bytes: Vec<u64>,
    /// Records refused with ProvisionedThroughputExceededException.
    pub write_throttled: Vec<u64>,
    /// Records returned by GetRecords.
    #[serde(default)]
    pub outgoing_records: Vec<u64>,
    /// Their bytes (partition key plus data).
    #[serde(default)]
    pub outgoing_bytes: Vec<u64>,
    /// GetRecords calls refused with ProvisionedThroughputExceededException.
    #[serde(default)]
    pub read_throttled: Vec<u64>,
}

/// What `GET /kwb/metrics` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSnapshot {
    pub stream: String,
    /// Length of every series.
    pub seconds: usize,
    /// Shards that have seen traffic, by id.
    pub shards: BTreeMap<String, ShardSeries>,
    /// Put requests the server answered but could not count (its counting queue was full):
    /// when not 0, the counts are short.
    #[serde(default)]
    pub uncounted_requests: u64,
    /// Write calls on the stream since the server started, whatever their answer.
    #[serde(default)]
    pub calls: Calls,
}

/// Write calls on a stream, by operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calls {
    pub put_record: u64,
    pub put_records: u64,
}

/// A shard's hash-key range, as the server has it.
#[derive(Debug, Clone)]
struct Range {
    start: u128,
    end: u128,
    shard_id: String,
    open: bool,
}

type Ranges = Arc<Vec<Range>>;

/// The operations the layer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    PutRecord,
    PutRecords,
    GetRecords,
}

/// Work for the counting task, in the order the layer saw it.
enum Job {
    /// A request and its answer, seen at `at`.
    Observed {
        operation: Operation,
        format: Format,
        request: Bytes,
        status: StatusCode,
        answer: Bytes,
        at: Instant,
    },
    /// Everything observed before this is counted: answer with the counts.
    Snapshot {
        stream: String,
        seconds: usize,
        reply: oneshot::Sender<ServerSnapshot>,
    },
}

/// Observations waiting to be counted before new ones are dropped (and reported as such).
const QUEUE: usize = 4096;

/// The layer's handle on the counting task. Counting happens off the request path: a put's
/// answer goes out as soon as the server has made it; the task parses and counts it after.
#[derive(Debug)]
pub struct ServerMetrics {
    jobs: mpsc::Sender<Job>,
    /// Puts not counted because the queue was full.
    dropped: AtomicU64,
}

/// The counts of every stream's shards, owned by the counting task.
struct Counts {
    start: Instant,
    store: Store,
    shards: HashMap<(String, String), Ring<METRICS>>,
    /// Each stream's ranges and when they were read.
    ranges: HashMap<String, (Instant, Ranges)>,
    calls: HashMap<String, Calls>,
}

/// One record of a put request: where it goes and what it weighs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutEntry {
    partition_key: String,
    #[serde(default)]
    explicit_hash_key: Option<String>,
    /// Base64 (JSON) or raw bytes (CBOR).
    #[serde(default)]
    data: Data,
}

/// A record's data: only its decoded length matters.
#[derive(Debug, Default)]
struct Data(usize);

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Data, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Data;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("base64 text or bytes")
            }
            fn visit_str<E>(self, text: &str) -> Result<Data, E> {
                let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
                Ok(Data((text.len() / 4 * 3).saturating_sub(padding)))
            }
            fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Data, E> {
                Ok(Data(bytes.len()))
            }
        }
        d.deserialize_any(Visit)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsRequest {
    #[serde(default)]
    stream_name: Option<String>,
    #[serde(default, rename = "StreamARN")]
    stream_arn: Option<String>,
    records: Vec<PutEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordRequest {
    #[serde(default)]
    stream_name: Option<String>,
    #[serde(default, rename = "StreamARN")]
    stream_arn: Option<String>,
    partition_key: String,
    #[serde(default)]
    explicit_hash_key: Option<String>,
    #[serde(default)]
    data: Data,
}

/// The stream a request names: by name, or by the last part of its ARN.
fn stream_name<'a>(name: &'a Option<String>, arn: &'a Option<String>) -> Option<&'a str> {
    name.as_deref().or_else(|| {
        arn.as_deref()
            .and_then(|arn| arn.rsplit_once('/').map(|(_, name)| name))
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutAnswer {
    #[serde(default)]
    shard_id: Option<String>,
    #[serde(default)]
    error_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsAnswer {
    records: Vec<PutAnswer>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecordsRequest {
    shard_iterator: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecordsAnswer {
    records: Vec<GotRecord>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GotRecord {
    partition_key: String,
    #[serde(default)]
    data: Data,
}

/// An error answer's type, e.g. `ProvisionedThroughputExceededException`.
#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    #[serde(rename = "__type", default)]
    kind: String,
}

/// The body format of a request, from its content type.
#[derive(Debug, Clone, Copy)]
enum Format {
    Json,
    Cbor,
}

fn decode<T: serde::de::DeserializeOwned>(format: Format, bytes: &[u8]) -> Option<T> {
    match format {
        Format::Json => serde_json::from_slice(bytes).ok(),
        Format::Cbor => ciborium::from_reader(bytes).ok(),
    }
}

impl ServerMetrics {
    /// Starts the counting task for the server over `store`.
    pub fn start(store: Store) -> Arc<ServerMetrics> {
        let (jobs, mut queue) = mpsc::channel(QUEUE);
        let mut counts = Counts {
            start: Instant::now(),
            store,
            shards: HashMap::new(),
            ranges: HashMap::new(),
            calls: HashMap::new(),
        };
        tokio::spawn(async move {
            while let Some(job) = queue.recv().await {
                match job {
                    Job::Observed {
                        operation: Operation::GetRecords,
                        format,
                        request,
                        status,
                        answer,
                        at,
                    } => counts.observe_get(format, &request, status, &answer, at),
                    Job::Observed {
                        operation,
                        format,
                        request,
                        status,
                        answer,
                        at,
                    } => {
                        let many = operation == Operation::PutRecords;
                        counts
                            .observe_put(many, format, &request, status, &answer, at)
                            .await
                    }
                    Job::Snapshot {
                        stream,
                        seconds,
                        reply,
                    } => {
                        let _ = reply.send(counts.snapshot(&stream, seconds));
                    }
                }
            }
        });
        Arc::new(ServerMetrics {
            jobs,
            dropped: AtomicU64::new(0),
        })
    }

    /// The counts of `stream` once everything observed so far is counted.
    pub async fn snapshot(&self, stream: &str, seconds: usize) -> Option<ServerSnapshot> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Snapshot {
            stream: stream.to_string(),
            seconds,
            reply,
        };
        self.jobs.send(job).await.ok()?;
        let mut snapshot = answer.await.ok()?;
        snapshot.uncounted_requests = self.dropped.load(Relaxed);
        Some(snapshot)
    }

    async fn publish(&self, query: Option<&str>) -> Response {
        let mut stream = None;
        let mut seconds = 60;
        for pair in query.unwrap_or_default().split('&') {
            match pair.split_once('=') {
                Some(("stream", s)) => stream = Some(s.to_string()),
                Some(("seconds", n)) => seconds = n.parse().unwrap_or(seconds),
                _ => {}
            }
        }
        let Some(stream) = stream.filter(|s| !s.is_empty()) else {
            return (StatusCode::BAD_REQUEST, "the query needs stream=NAME").into_response();
        };
        match self.snapshot(&stream, seconds).await {
            Some(snapshot) => axum::Json(snapshot).into_response(),
            None => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the counting task has stopped",
            )
                .into_response(),
        }
    }
}

impl Counts {
    fn ring(&mut self, stream: &str, shard: &str) -> &Ring<METRICS> {
        self.shards
            .entry((stream.to_string(), shard.to_string()))
            .or_insert_with(|| Ring::new(SERVER_HISTORY_SECS))
    }

    /// The open shard a record with this key goes to, from the store's hash-key ranges.
    async fn shard_for(&mut self, stream: &str, entry: &PutEntry) -> Option<String> {
        let hash = match &entry.explicit_hash_key {
            Some(ehk) => ehk.parse::<u128>().ok()?,
            None => HashKey::of_partition_key(&entry.partition_key).0,
        };
        let cached = self
            .ranges
            .get(stream)
            .filter(|(at, _)| at.elapsed() < RANGES_TTL)
            .map(|(_, r)| r.clone());
        let ranges = match cached {
            Some(ranges) => ranges,
            None => {
                let s = self.store.get_stream(stream).await.ok()?;
                let ranges: Ranges = Arc::new(
                    s.shards
                        .iter()
                        .filter_map(|shard| {
                            Some(Range {
                                start: shard.hash_key_range.starting_hash_key.parse().ok()?,
                                end: shard.hash_key_range.ending_hash_key.parse().ok()?,
                                shard_id: shard.shard_id.clone(),
                                open: shard.sequence_number_range.ending_sequence_number.is_none(),
                            })
                        })
                        .collect(),
                );
                self.ranges
                    .insert(stream.to_string(), (Instant::now(), ranges.clone()));
                ranges
            }
        };
        ranges
            .iter()
            .find(|r| r.open && (r.start..=r.end).contains(&hash))
            .map(|r| r.shard_id.clone())
    }

    /// Counts what a put request and its answer say: accepted records on the shard the answer
    /// names, throttled ones on their key's shard; each shard's ring is touched once.
    async fn observe_put(
        &mut self,
        many: bool,
        format: Format,
        request: &[u8],
        status: StatusCode,
        answer: &[u8],
        at: Instant,
    ) {
        let (stream, entries, answers) = if many {
            let Some(request) = decode::<PutRecordsRequest>(format, request) else {
                return;
            };
            let Some(stream) = stream_name(&request.stream_name, &request.stream_arn) else {
                return;
            };
            self.calls
                .entry(stream.to_string())
                .or_default()
                .put_records += 1;
            let Some(answer) =
                decode::<PutRecordsAnswer>(format, answer).filter(|_| status.is_success())
            else {
                return;
            };
            (stream.to_string(), request.records, answer.records)
        } else {
            let Some(request) = decode::<PutRecordRequest>(format, request) else {
                return;
            };
            let Some(stream) = stream_name(&request.stream_name, &request.stream_arn) else {
                return;
            };
            self.calls.entry(stream.to_string()).or_default().put_record += 1;
            let answer = if status.is_success() {
                decode::<PutAnswer>(format, answer)
            } else {
                decode::<ErrorAnswer>(format, answer).map(|e| PutAnswer {
                    shard_id: None,
                    error_code: e.kind.rsplit('#').next().map(str::to_string),
                })
            };
            let Some(answer) = answer else {
                return;
            };
            let entry = PutEntry {
                partition_key: request.partition_key,
                explicit_hash_key: request.explicit_hash_key,
                data: request.data,
            };
            (stream.to_string(), vec![entry], vec![answer])
        };
        // shard -> [records, bytes, throttled]
        let mut counts: HashMap<String, [u64; METRICS]> = HashMap::new();
        for (entry, answer) in entries.iter().zip(answers) {
            match (answer.shard_id, answer.error_code.as_deref()) {
                (Some(shard), None) => {
                    let c = counts.entry(shard).or_default();
                    c[Metric::IncomingRecords as usize] += 1;
                    c[Metric::IncomingBytes as usize] +=
                        (entry.partition_key.len() + entry.data.0) as u64;
                }
                (_, Some(THROTTLED)) => {
                    if let Some(shard) = self.shard_for(&stream, entry).await {
                        counts.entry(shard).or_default()[Metric::WriteThrottled as usize] += 1;
                    }
                }
                _ => {}
            }
        }
        let second = at.saturating_duration_since(self.start).as_secs();
        for (shard, values) in counts {
            let ring = self.ring(&stream, &shard);
            for (i, n) in values.into_iter().enumerate() {
                if n > 0 {
                    ring.add(second, i, n);
                }
            }
        }
    }

    /// Counts what a GetRecords call returned (or that it was throttled) on the shard its
    /// iterator names.
    fn observe_get(
        &mut self,
        format: Format,
        request: &[u8],
        status: StatusCode,
        answer: &[u8],
        at: Instant,
    ) {
        let Some(request) = decode::<GetRecordsRequest>(format, request) else {
            return;
        };
        let Ok((_, stream, shard, _)) =
            ferrokinesis::shard_iterator::decode_shard_iterator(&request.shard_iterator)
        else {
            return;
        };
        let second = at.saturating_duration_since(self.start).as_secs();
        if status.is_success() {
            let Some(answer) = decode::<GetRecordsAnswer>(format, answer) else {
                return;
            };
            let bytes: usize = answer
                .records
                .iter()
                .map(|r| r.partition_key.len() + r.data.0)
                .sum();
            let ring = self.ring(&stream, &shard);
            ring.add(
                second,
                Metric::OutgoingRecords as usize,
                answer.records.len() as u64,
            );
            ring.add(second, Metric::OutgoingBytes as usize, bytes as u64);
        } else if decode::<ErrorAnswer>(format, answer).is_some_and(|e| e.kind.ends_with(THROTTLED))
        {
            self.ring(&stream, &shard)
                .add(second, Metric::ReadThrottled as usize, 1);
        }
    }

    /// The last `seconds` seconds of every shard of `stream` that has seen traffic.
    pub fn snapshot(&self, stream: &str, seconds: usize) -> ServerSnapshot {
        let seconds = seconds.clamp(1, SERVER_HISTORY_SECS);
        let now = self.start.elapsed().as_secs();
        let shards = self
            .shards
            .iter()
            .filter(|((s, _), _)| s == stream)
            .map(|((_, shard), ring)| {
                let series = |m: Metric| ring.series(now, seconds, m as usize);
                (
                    shard.clone(),
                    ShardSeries {
                        incoming_records: series(Metric::IncomingRecords),
                        incoming_bytes: series(Metric::IncomingBytes),
                        write_throttled: series(Metric::WriteThrottled),
                        outgoing_records: series(Metric::OutgoingRecords),
                        outgoing_bytes: series(Metric::OutgoingBytes),
                        read_throttled: series(Metric::ReadThrottled),
                    },
                )
            })
            .collect();
        ServerSnapshot {
            stream: stream.to_string(),
            seconds,
            shards,
            uncounted_requests: 0,
            calls: self.calls.get(stream).copied().unwrap_or_default(),
        }
    }
}

/// Why the server's counts could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading the embedded server's shard metrics at {url}: {message}")]
pub struct FetchError {
    url: String,
    message: String,
}

/// Reads the last `seconds` seconds of `stream`'s shards from a server at `endpoint`, giving up
/// after `timeout`.
pub async fn fetch(
    endpoint: &str,
    stream: &str,
    seconds: usize,
    timeout: std::time::Duration,
) -> Result<ServerSnapshot, FetchError> {
    let url = format!(
        "{}{METRICS_PATH}?stream={stream}&seconds={seconds}",
        endpoint.trim_end_matches('/')
    );
    match tokio::time::timeout(timeout, fetch_url(&url)).await {
        Ok(fetched) => fetched,
        Err(_) => Err(FetchError {
            message: format!("no answer within {} ms", timeout.as_millis()),
            url,
        }),
    }
}

async fn fetch_url(url: &str) -> Result<ServerSnapshot, FetchError> {
    use http_body_util::BodyExt;
    let failed = |message: String| FetchError {
        url: url.to_string(),
        message,
    };
    let uri: axum::http::Uri = url.parse().map_err(|e| failed(format!("{e}")))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client
        .get(uri)
        .await
        .map_err(|e| failed(crate::errors::describe(&e)))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| failed(e.to_string()))?
        .to_bytes();
    if !status.is_success() {
        return Err(failed(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    serde_json::from_slice(&body).map_err(|e| failed(format!("not the metrics kwb publishes: {e}")))
}

/// The layer: publishes the counts, and hands every put and GetRecords that passes to the
/// counting task.
pub async fn observe(metrics: Arc<ServerMetrics>, request: Request, next: Next) -> Response {
    if request.method() == Method::GET && request.uri().path() == METRICS_PATH {
        return metrics.publish(request.uri().query()).await;
    }
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default();
    let operation = match operation {
        "PutRecords" => Operation::PutRecords,
        "PutRecord" => Operation::PutRecord,
        "GetRecords" => Operation::GetRecords,
        _ => return next.run(request).await,
    };
    let format = match request.headers().get(header::CONTENT_TYPE) {
        Some(t) if t.to_str().is_ok_and(|t| t.contains("cbor")) => Format::Cbor,
        _ => Format::Json,
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_REQUEST_BODY_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(body.clone())))
        .await;
    let (parts, answer) = response.into_parts();
    // The answer is already whole in the server's memory: take it as it is, however large (a
    // GetRecords of 10,000 aggregates can pass the request limit), and pass it on unchanged.
    let Ok(answer) = to_bytes(answer, usize::MAX).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answer could not be read",
        )
            .into_response();
    };
    let job = Job::Observed {
        operation,
        format,
        request: body,
        status: parts.status,
        answer: answer.clone(),
        at: Instant::now(),
    };
    if metrics.jobs.try_send(job).is_err() {
        metrics.dropped.fetch_add(1, Relaxed);
    }
    Response::from_parts(parts, Body::from(answer))
}
