//! The producer: a KPL-style pipeline with backpressure and an outcome for every record.
//!
//! [`Producer`] is the async face: `put` validates, waits for capacity and hands the record to a
//! single driver task that owns the [`pipeline::Pipeline`], sends its batches (bounded
//! concurrency), feeds answers back, and keeps the shard map fresh. Each `put` returns a
//! [`PendingOutcome`] that resolves exactly once.

pub mod backlog;
pub mod collector;
pub mod config;
pub mod limiter;
pub mod metrics;
pub mod outcome;
pub mod pipeline;
pub mod record;
pub mod retry;
pub mod sender;

use crate::kinesis::admin::{describe, StreamFacts};
use crate::kinesis::hash_key::{validate_partition_key, HashKey, KeyError};
use crate::kinesis::shard_map::{list_shards, ShardMap};
use aws_sdk_kinesis::Client;
use backlog::{Backlogs, ShardRange};
use config::{Api, ConfigError, ProducerConfig, Tuning};
use metrics::ProducerMetrics;
use outcome::{Failure, FailureReason, Outcome};
use pipeline::{BatchResult, Pipeline};
use record::{KinesisRecord, NewRecord, Permits, UserRecord};
use retry::AttemptError;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, Semaphore, TryAcquireError};
use tokio::task::JoinSet;

const SHARD_MAP_MIN_REFRESH: Duration = Duration::from_secs(1);
const SHARD_MAP_MAX_BACKOFF: Duration = Duration::from_secs(30);
const SHARD_MAP_PERIODIC_REFRESH: Duration = Duration::from_secs(60);
/// Commands taken from the inbox before the pipeline is polled again.
const INBOX_BATCH: usize = 4096;

/// Why `put` refused a record.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error(transparent)]
    InvalidKey(#[from] KeyError),
    #[error("record is {bytes} bytes (partition key + data): the limit is {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    #[error("the producer is full ({0}); try again when records have resolved")]
    Full(&'static str),
    #[error("the producer has stopped")]
    Stopped,
}

impl PutError {
    /// A short label for counting refusals by reason.
    pub fn label(&self) -> &'static str {
        match self {
            PutError::InvalidKey(_) => "InvalidKey",
            PutError::TooLarge { .. } => "TooLarge",
            PutError::Full(_) => "Full",
            PutError::Stopped => "Stopped",
        }
    }
}

/// Why the producer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not read the shards of stream {stream:?}: {message}")]
    ShardMap { stream: String, message: String },
}

/// What `shutdown` could not deliver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Records failed as `Shutdown` because the deadline came first (buffered or in flight).
    pub undelivered: usize,
}

enum Command {
    Put(UserRecord),
    Tune(ProducerConfig),
    Flush(oneshot::Sender<()>),
    Shutdown {
        deadline: Instant,
        done: oneshot::Sender<ShutdownReport>,
    },
    /// Brings the deadline of a shutdown under way forward to now.
    StopNow,
    /// Reads the shard map again now (the stream was resharded).
    RefreshMap,
}

/// The outcome of one `put`, resolved once the record is delivered or has failed.
pub struct PendingOutcome {
    receiver: oneshot::Receiver<Outcome>,
    arrived: Instant,
    failure: DriverFailure,
}

impl Future for PendingOutcome {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let arrived = self.arrived;
        let failure = self.failure.clone();
        Pin::new(&mut self.receiver).poll(cx).map(|result| {
            // Dropped unresolved: only a producer that failed drops a record.
            result.unwrap_or_else(|_| {
                let why = failure.get().map_or("the producer stopped", String::as_str);
                Outcome::Failed(Failure {
                    reason: FailureReason::ProducerFailed(format!(
                        "{why}; the record may or may not have been written"
                    )),
                    attempts: 0,
                    latency: arrived.elapsed(),
                })
            })
        })
    }
}

/// Why the producer's driver task stopped working, once it has (a panic, with its message).
type DriverFailure = Arc<OnceLock<String>>;

pub struct Producer {
    inbox: mpsc::UnboundedSender<Command>,
    failure: DriverFailure,
    records: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    backlogs: Backlogs,
    metrics: Arc<ProducerMetrics>,
    shard_map: watch::Receiver<Arc<ShardMap>>,
    /// The stream as the service described it when the producer started.
    facts: StreamFacts,
    config: ProducerConfig,
    driver: tokio::task::JoinHandle<()>,
}

impl Producer {
    /// Reads the stream's shard map and starts the pipeline.
    pub async fn start(
        client: Client,
        stream: &str,
        config: ProducerConfig,
    ) -> Result<Producer, StartError> {
        config.validate()?;
        let facts = stream_facts_within(&client, stream, config.request_timeout).await;
        let config = config.for_stream(&facts);
        config.validate()?;
        let map = list_shards_within(&client, stream, config.request_timeout)
            .await
            .map_err(|message| StartError::ShardMap {
                stream: stream.to_string(),
                message,
            })?;
        let map = Arc::new(map);
        let metrics = ProducerMetrics::new();
        let (map_tx, map_rx) = watch::channel(map.clone());
        let (inbox, commands) = mpsc::unbounded_channel();
        let pipeline = Pipeline::new(config.clone(), map, metrics.clone());
        let driver = Driver {
            client,
            stream: stream.to_string(),
            config: config.clone(),
            pipeline,
            commands,
            map_tx,
            in_flight: JoinSet::new(),
            batches: HashMap::new(),
        };
        let failure = DriverFailure::default();
        Ok(Producer {
            inbox,
            failure: failure.clone(),
            records: Arc::new(Semaphore::new(config.max_outstanding_records)),
            bytes: Arc::new(Semaphore::new(config.max_outstanding_bytes)),
            backlogs: Backlogs::new(config.aggregation, config.rate_limit_percent),
            metrics,
            shard_map: map_rx,
            facts,
            config,
            driver: tokio::spawn(supervised(driver.run(), failure)),
        })
    }

    /// The stream as the service described it at the start (defaults where it could not).
    pub fn facts(&self) -> &StreamFacts {
        &self.facts
    }

    /// The settings in effect (as adjusted to the stream).
    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }

    pub fn metrics(&self) -> &Arc<ProducerMetrics> {
        &self.metrics
    }

    /// User records accepted and not yet resolved.
    pub fn outstanding(&self) -> usize {
        self.config.max_outstanding_records - self.records.available_permits()
    }

    /// What stopped the producer, if it failed (its records then fail as `ProducerFailed`).
    pub fn failure(&self) -> Option<String> {
        self.failure.get().cloned()
    }

    /// The shard map the producer currently routes by.
    pub fn shard_map(&self) -> Arc<ShardMap> {
        self.shard_map.borrow().clone()
    }

    fn validate(&self, record: &NewRecord) -> Result<(), PutError> {
        validate_partition_key(&record.partition_key)?;
        let bytes = record.billed_bytes();
        if bytes > self.config.max_record_bytes {
            return Err(PutError::TooLarge {
                bytes,
                limit: self.config.max_record_bytes,
            });
        }
        Ok(())
    }

    /// The shard the current map predicts for a hash key.
    fn predicted_shard(&self, hash_key: HashKey) -> ShardRange {
        let map = self.shard_map.borrow();
        map.shard_for(hash_key).map_or((0, 0), |shard| {
            (shard.starting_hash_key, shard.ending_hash_key)
        })
    }

    fn submit(
        &self,
        record: NewRecord,
        hash_key: HashKey,
        permits: Permits,
    ) -> Result<PendingOutcome, PutError> {
        let (reply, receiver) = oneshot::channel();
        let arrived = Instant::now();
        let mut user = UserRecord::hashed(record, hash_key, reply, arrived);
        user.permits = Some(permits);
        self.inbox
            .send(Command::Put(user))
            .map_err(|_| PutError::Stopped)?;
        Ok(PendingOutcome {
            receiver,
            arrived,
            failure: self.failure.clone(),
        })
    }

    /// Accepts a record, waiting while its shard's backlog is full (see [`backlog`]) or the
    /// producer holds its maximum of records or bytes.
    pub async fn put(&self, record: NewRecord) -> Result<PendingOutcome, PutError> {
        self.validate(&record)?;
        let hash_key = record.hash_key();
        let bytes = record.billed_bytes();
        let shard = self
            .backlogs
            .slot(self.predicted_shard(hash_key), bytes)
            .await;
        let records = self.records.clone().acquire_owned().await;
        let bytes = self
            .bytes
            .clone()
            .acquire_many_owned(bytes.max(1) as u32)
            .await;
        let (Ok(records), Ok(bytes)) = (records, bytes) else {
            return Err(PutError::Stopped);
        };
        self.submit(
            record,
            hash_key,
            Permits {
                _records: records,
                _bytes: bytes,
                _shard: shard,
            },
        )
    }

    /// Accepts a record if there is room now, or says the producer is full.
    pub fn try_put(&self, record: NewRecord) -> Result<PendingOutcome, PutError> {
        self.validate(&record)?;
        let hash_key = record.hash_key();
        let bytes = record.billed_bytes();
        let full = |e: TryAcquireError, what| match e {
            TryAcquireError::NoPermits => PutError::Full(what),
            TryAcquireError::Closed => PutError::Stopped,
        };
        let shard = self
            .backlogs
            .try_slot(self.predicted_shard(hash_key), bytes)
            .ok_or(PutError::Full("its shard's backlog"))?;
        let records = self
            .records
            .clone()
            .try_acquire_owned()
            .map_err(|e| full(e, "max_outstanding_records"))?;
        let bytes = self
            .bytes
            .clone()
            .try_acquire_many_owned(bytes.max(1) as u32)
            .map_err(|e| full(e, "max_outstanding_bytes"))?;
        self.submit(
            record,
            hash_key,
            Permits {
                _records: records,
                _bytes: bytes,
                _shard: shard,
            },
        )
    }

    /// Changes aggregation, buffering time or the rate limit while the producer runs; records
    /// already buffered keep the settings they were buffered under.
    pub fn tune(&self, tuning: Tuning) -> Result<(), ConfigError> {
        let config = self.config.tuned(tuning)?;
        self.backlogs
            .tune(config.aggregation, config.rate_limit_percent);
        self.inbox
            .send(Command::Tune(config))
            .map_err(|_| ConfigError {
                field: "producer",
                value: "stopped".into(),
                limit: "a running producer",
            })
    }

    /// Reads the stream's shard map again now, as after resharding it: the map (and whoever
    /// watches it) follows at once instead of at the next wrong-shard answer or periodic read.
    pub fn refresh_map(&self) {
        let _ = self.inbox.send(Command::RefreshMap);
    }

    /// Sends everything buffered at once (ignoring the buffering time) and waits until no record
    /// is outstanding. Records put while it waits are sent at once too and waited for as well.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.inbox.send(Command::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Flushes, waiting at most `grace`; records still unresolved then fail as `Shutdown`.
    pub async fn shutdown(self, grace: Duration) -> ShutdownReport {
        self.shutdown_or(grace, std::future::pending()).await
    }

    /// Like `shutdown`, but when `hurry` completes first (a second Ctrl-C), stops waiting at
    /// once: every record still unresolved fails as `Shutdown`.
    pub async fn shutdown_or(
        self,
        grace: Duration,
        hurry: impl Future<Output = ()>,
    ) -> ShutdownReport {
        let (done, wait) = oneshot::channel();
        let deadline = Instant::now() + grace;
        let report = if self
            .inbox
            .send(Command::Shutdown { deadline, done })
            .is_ok()
        {
            tokio::pin!(wait);
            tokio::select! {
                report = &mut wait => report.unwrap_or_default(),
                () = hurry => {
                    let _ = self.inbox.send(Command::StopNow);
                    wait.await.unwrap_or_default()
                }
            }
        } else {
            ShutdownReport::default()
        };
        self.records.close();
        self.bytes.close();
        let _ = self.driver.await;
        report
    }
}

/// The task that owns the pipeline.
struct Driver {
    client: Client,
    stream: String,
    config: ProducerConfig,
    pipeline: Pipeline,
    commands: mpsc::UnboundedReceiver<Command>,
    map_tx: watch::Sender<Arc<ShardMap>>,
    /// The requests under way; each one's batch stays here, in `batches`, so that
    /// whatever becomes of the request (an answer, a timeout, a panic) its records resolve.
    in_flight: JoinSet<BatchResult>,
    batches: HashMap<tokio::task::Id, Vec<KinesisRecord>>,
}

impl Driver {
    async fn run(mut self) {
        let mut flush_waiters: Vec<oneshot::Sender<()>> = Vec::new();
        let mut shutdown: Option<(Instant, oneshot::Sender<ShutdownReport>)> = None;
        let mut inbox_open = true;
        let mut refresh: Option<tokio::task::JoinHandle<Result<ShardMap, String>>> = None;
        let mut refresh_failures = 0u32;
        let mut next_refresh = Instant::now() + SHARD_MAP_MIN_REFRESH;
        let mut refresh_asked = false;
        let mut last_refresh = Instant::now();
        loop {
            let now = Instant::now();
            let room = self.config.max_concurrent_requests - self.in_flight.len();
            for batch in self.pipeline.poll(now, room) {
                self.send(batch);
            }
            if self.pipeline.outstanding() == 0 {
                for waiter in flush_waiters.drain(..) {
                    let _ = waiter.send(());
                }
                if shutdown.is_none() && inbox_open {
                    self.pipeline.set_flushing(false);
                }
            }
            if let Some((deadline, _)) = &shutdown {
                if self.pipeline.outstanding() == 0 || now >= *deadline {
                    let (_, done) = shutdown.take().expect("shutdown");
                    self.in_flight.abort_all();
                    let mut undelivered = self.pipeline.fail_all("shutdown deadline reached", now);
                    for (_, batch) in self.batches.drain() {
                        undelivered += self.pipeline.abandon(
                            batch,
                            "in flight at the shutdown deadline; it may or may not have been written",
                            now,
                        );
                    }
                    let _ = done.send(ShutdownReport { undelivered });
                    return;
                }
            }
            if !inbox_open && self.pipeline.outstanding() == 0 && self.in_flight.is_empty() {
                return;
            }
            let wants_refresh = self.pipeline.map_is_stale()
                || refresh_asked
                || now.saturating_duration_since(last_refresh) >= SHARD_MAP_PERIODIC_REFRESH;
            if wants_refresh && refresh.is_none() && now >= next_refresh {
                refresh_asked = false;
                let (client, stream) = (self.client.clone(), self.stream.clone());
                let timeout = self.config.request_timeout;
                refresh = Some(tokio::spawn(async move {
                    list_shards_within(&client, &stream, timeout).await
                }));
            }
            let mut wake = self.pipeline.next_wakeup();
            if self.pipeline.has_ready() && room == 0 {
                wake = None; // only a finished request makes room
            }
            if let Some((deadline, _)) = &shutdown {
                wake = Some(wake.map_or(*deadline, |w| w.min(*deadline)));
            }
            if self.pipeline.map_is_stale() && refresh.is_none() {
                wake = Some(wake.map_or(next_refresh, |w| w.min(next_refresh)));
            }
            let sleep = tokio::time::sleep_until(
                wake.unwrap_or_else(|| now + Duration::from_secs(3600))
                    .into(),
            );
            tokio::select! {
                Some(done) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    let (id, result) = match done {
                        Ok((id, result)) => (id, result),
                        // The request's task panicked or was cancelled: its records are retried.
                        Err(error) => (error.id(), Err(AttemptError::transient(
                            "SendTaskFailed",
                            join_error_message(error),
                        ))),
                    };
                    if let Some(batch) = self.batches.remove(&id) {
                        self.pipeline.on_result(batch, result, Instant::now());
                    }
                }
                command = self.commands.recv(), if inbox_open => {
                    let mut next = command;
                    let mut taken = 0;
                    loop {
                        match next {
                            Some(Command::Put(record)) => self.pipeline.add(record, Instant::now()),
                            Some(Command::Tune(config)) => {
                                self.pipeline.set_config(config.clone());
                                self.config = config;
                            }
                            Some(Command::Flush(done)) => {
                                self.pipeline.set_flushing(true);
                                flush_waiters.push(done);
                            }
                            Some(Command::Shutdown { deadline, done }) => {
                                self.pipeline.set_flushing(true);
                                shutdown = Some((deadline, done));
                            }
                            Some(Command::RefreshMap) => {
                                refresh_asked = true;
                                next_refresh = Instant::now();
                            }
                            Some(Command::StopNow) => {
                                if let Some((deadline, _)) = shutdown.as_mut() {
                                    *deadline = Instant::now();
                                }
                            }
                            None => {
                                // Every handle is gone: deliver what is left, then stop.
                                inbox_open = false;
                                self.pipeline.set_flushing(true);
                                break;
                            }
                        }
                        taken += 1;
                        if taken == INBOX_BATCH {
                            break;
                        }
                        match self.commands.try_recv() {
                            Ok(command) => next = Some(command),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => next = None,
                        }
                    }
                }
                result = async { refresh.as_mut().expect("guarded").await }, if refresh.is_some() => {
                    refresh = None;
                    let now = Instant::now();
                    last_refresh = now;
                    match result.unwrap_or_else(|e| Err(e.to_string())) {
                        Ok(map) => {
                            refresh_failures = 0;
                            next_refresh = now + SHARD_MAP_MIN_REFRESH;
                            let map = Arc::new(map);
                            self.pipeline.set_map(map.clone(), now);
                            let _ = self.map_tx.send(map);
                        }
                        Err(message) => {
                            tracing::warn!(%message, "shard map refresh failed");
                            refresh_failures += 1;
                            next_refresh = now + refresh_backoff(refresh_failures);
                        }
                    }
                }
                _ = sleep => {}
            }
        }
    }

    fn send(&mut self, batch: Vec<KinesisRecord>) {
        let (client, stream, timeout) = (
            self.client.clone(),
            self.stream.clone(),
            self.config.request_timeout,
        );
        // A batch collected for PutRecords before the API changed still goes as one request.
        let task = match self.config.api {
            Api::PutRecord if batch.len() == 1 => {
                let entry = sender::Entry::of(&batch[0]);
                self.in_flight.spawn(async move {
                    sender::put_record(&client, &stream, entry, timeout).await
                })
            }
            _ => {
                let entries = match sender::request_entries(&batch) {
                    Ok(entries) => entries,
                    Err(error) => {
                        return self.pipeline.on_result(batch, Err(error), Instant::now())
                    }
                };
                self.in_flight.spawn(async move {
                    sender::put_records(&client, &stream, entries, timeout).await
                })
            }
        };
        self.pipeline.metrics().count_request();
        self.batches.insert(task.id(), batch);
    }
}

/// What the service says of the stream (mode, record placement, largest record), or the
/// defaults when it does not answer within `timeout` (DescribeStreamSummary may not be allowed).
async fn stream_facts_within(client: &Client, stream: &str, timeout: Duration) -> StreamFacts {
    match tokio::time::timeout(timeout, describe(client, stream)).await {
        Ok(Ok(summary)) => summary.facts(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "DescribeStreamSummary failed; the stream's defaults assumed");
            StreamFacts::default()
        }
        Err(_) => {
            tracing::warn!("DescribeStreamSummary did not answer; the stream's defaults assumed");
            StreamFacts::default()
        }
    }
}

/// Reads the stream's shard map, giving up after `timeout` (the producer's client has no
/// operation timeout of its own).
async fn list_shards_within(
    client: &Client,
    stream: &str,
    timeout: Duration,
) -> Result<ShardMap, String> {
    match tokio::time::timeout(timeout, list_shards(client, stream)).await {
        Ok(listed) => listed.map_err(|e| crate::errors::describe(&e)),
        Err(_) => Err(format!(
            "ListShards did not answer within {} ms",
            timeout.as_millis()
        )),
    }
}

/// Runs the driver, and if it panics keeps the message for every record it leaves unresolved
/// (set before the driver's state, and with it the records, is dropped).
async fn supervised(driver: impl Future<Output = ()>, failure: DriverFailure) {
    let mut driver = Box::pin(driver);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                tracing::error!(
                    message = panic_message(&*panic),
                    "the producer's driver panicked"
                );
                let _ = failure.set(format!(
                    "the producer failed: it panicked ({})",
                    panic_message(&*panic)
                ));
                Poll::Ready(())
            }
        }
    })
    .await
}

/// What a panic said, when it said it with a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

fn join_error_message(error: tokio::task::JoinError) -> String {
    if error.is_panic() {
        format!(
            "the request's task panicked: {}",
            panic_message(&*error.into_panic())
        )
    } else {
        "the request's task was cancelled".to_string()
    }
}

/// The wait before the next shard-map refresh after `failures` failed ones: 1 s x1.5, up to 30 s.
pub fn refresh_backoff(failures: u32) -> Duration {
    SHARD_MAP_MIN_REFRESH
        .mul_f64(1.5f64.powi(failures.saturating_sub(1).min(20) as i32))
        .min(SHARD_MAP_MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_a_panicking_driver_leaves_behind_fail_with_the_panic() {
        let failure = DriverFailure::default();
        let (reply, receiver) = oneshot::channel();
        let record = UserRecord::new(NewRecord::new("k", "data"), reply, Instant::now());
        let pending = PendingOutcome {
            receiver,
            arrived: Instant::now(),
            failure: failure.clone(),
        };
        let driver = async move {
            let _holds = record;
            tokio::task::yield_now().await;
            panic!("bad state");
        };
        tokio::spawn(supervised(driver, failure.clone()))
            .await
            .unwrap();
        let Outcome::Failed(f) = pending.await else {
            panic!("delivered")
        };
        assert_eq!(
            f.reason,
            FailureReason::ProducerFailed(
                "the producer failed: it panicked (bad state); the record may or may not have been written".into()
            )
        );
        assert_eq!(
            failure.get().map(String::as_str),
            Some("the producer failed: it panicked (bad state)")
        );
    }

    #[test]
    fn shard_map_refresh_backs_off_to_thirty_seconds() {
        assert_eq!(refresh_backoff(1), Duration::from_secs(1));
        assert_eq!(refresh_backoff(2), Duration::from_millis(1500));
        assert_eq!(refresh_backoff(3), Duration::from_millis(2250));
        assert_eq!(refresh_backoff(50), Duration::from_secs(30));
    }
}
