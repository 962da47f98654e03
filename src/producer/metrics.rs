//! Producer metrics: per-shard counters in 1-second buckets, read by views as snapshots.
//!
//! The pipeline is the only writer; counters are atomics so that a view can take a snapshot at any
//! time without stopping it. Latency goes into a per-shard histogram. Nothing here is one message
//! per record.

use crate::per_second::Ring;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How many 1-second buckets each shard keeps.
pub const HISTORY_SECS: usize = 600;

/// What is counted per shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// User records delivered.
    UserRecords,
    /// Kinesis records (plain or aggregate) delivered.
    KinesisRecords,
    /// Bytes (key + data) of Kinesis records delivered.
    Bytes,
    /// Kinesis records the service throttled.
    Throttled,
    /// Kinesis records that failed for other reasons (request or record errors).
    Errors,
    /// User records sent again after a failed attempt.
    Retries,
    /// User records that ended failed.
    Failed,
}

const COUNTERS: usize = 7;
/// Beside the counters, each second's slot keeps that second's latency p50 and p99 (µs).
const P50: usize = COUNTERS;
const P99: usize = COUNTERS + 1;

/// Latencies: all of them, and those of one second until the second is over.
#[derive(Debug)]
struct Latency {
    total: Histogram<u64>,
    second: u64,
    this_second: Histogram<u64>,
}

impl Latency {
    /// Writes the quantiles of the second being collected into its slot, once it is over.
    fn close_second(&mut self, ring: &Ring<{ COUNTERS + 2 }>, now_second: u64) {
        if self.second >= now_second || self.this_second.is_empty() {
            return;
        }
        ring.set_if_counted(self.second, P50, self.this_second.value_at_quantile(0.5));
        ring.set_if_counted(self.second, P99, self.this_second.value_at_quantile(0.99));
        self.this_second.reset();
    }
}

/// The counters of one shard.
#[derive(Debug)]
pub struct ShardMetrics {
    totals: [AtomicU64; COUNTERS],
    ring: Ring<{ COUNTERS + 2 }>,
    pending: AtomicI64,
    latency_us: Mutex<Latency>,
}

impl Default for ShardMetrics {
    fn default() -> Self {
        ShardMetrics {
            totals: Default::default(),
            ring: Ring::new(HISTORY_SECS),
            pending: AtomicI64::new(0),
            latency_us: Mutex::new(Latency {
                total: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("bounds"),
                second: 0,
                this_second: Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("bounds"),
            }),
        }
    }
}

impl ShardMetrics {
    fn add(&self, counter: Counter, n: u64, second: u64) {
        self.totals[counter as usize].fetch_add(n, Relaxed);
        self.ring.add(second, counter as usize, n);
    }

    pub fn total(&self, counter: Counter) -> u64 {
        self.totals[counter as usize].load(Relaxed)
    }
}

/// Every shard's counters, plus failures by reason.
#[derive(Debug)]
pub struct ProducerMetrics {
    start: Instant,
    shards: RwLock<BTreeMap<String, Arc<ShardMetrics>>>,
    failed_by_reason: Mutex<BTreeMap<String, u64>>,
    errors_by_code: Mutex<BTreeMap<String, AttemptErrors>>,
    /// Requests sent (PutRecords or PutRecord calls), retries included.
    requests: AtomicU64,
}

/// Failed attempts (other than throttling) with one error code: how many, and the latest message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptErrors {
    pub count: u64,
    pub last_message: String,
}

impl Default for ProducerMetrics {
    fn default() -> Self {
        ProducerMetrics {
            start: Instant::now(),
            shards: RwLock::default(),
            failed_by_reason: Mutex::default(),
            errors_by_code: Mutex::default(),
            requests: AtomicU64::new(0),
        }
    }
}

/// A shard's totals and recent history, as of a snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardSnapshot {
    pub user_records: u64,
    pub kinesis_records: u64,
    pub bytes: u64,
    pub throttled: u64,
    pub errors: u64,
    pub retries: u64,
    pub failed: u64,
    /// User records accepted for this shard and not yet resolved.
    pub pending: i64,
    pub latency_p50: Duration,
    pub latency_p99: Duration,
    /// Delivered user records and bytes in each of the last seconds, oldest first (the
    /// current, incomplete second last).
    pub records_per_sec: Vec<u64>,
    /// Kinesis records (what the shard limit counts) delivered per second.
    pub kinesis_records_per_sec: Vec<u64>,
    pub bytes_per_sec: Vec<u64>,
    pub throttled_per_sec: Vec<u64>,
    /// Each second's latency quantiles, in microseconds (0 where nothing was delivered; the
    /// current second's are 0 until it is over).
    pub latency_p50_us_per_sec: Vec<u64>,
    pub latency_p99_us_per_sec: Vec<u64>,
}

impl ShardSnapshot {
    /// Average user records per Kinesis record: how full aggregates were.
    pub fn aggregation_fill(&self) -> f64 {
        if self.kinesis_records == 0 {
            0.0
        } else {
            self.user_records as f64 / self.kinesis_records as f64
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    pub elapsed: Duration,
    pub shards: BTreeMap<String, ShardSnapshot>,
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Attempts that failed (other than throttling), by error code: retried unless they ran
    /// out of time.
    pub errors_by_code: BTreeMap<String, AttemptErrors>,
    /// Requests sent (PutRecords or PutRecord calls), retries included.
    pub requests: u64,
}

impl MetricsSnapshot {
    pub fn sum(&self, field: impl Fn(&ShardSnapshot) -> u64) -> u64 {
        self.shards.values().map(field).sum()
    }

    /// Every record failed, wherever it failed: the per-shard counts leave out records that
    /// failed before reaching a shard (expired unrouted, or held at shutdown).
    pub fn failed(&self) -> u64 {
        self.failed_by_reason.values().sum()
    }
}

impl ProducerMetrics {
    pub fn new() -> Arc<ProducerMetrics> {
        Arc::new(ProducerMetrics::default())
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_secs()
    }

    /// The counters of a shard, created on first use.
    pub fn shard(&self, shard_id: &str) -> Arc<ShardMetrics> {
        if let Some(m) = self.shards.read().expect("metrics lock").get(shard_id) {
            return m.clone();
        }
        self.shards
            .write()
            .expect("metrics lock")
            .entry(shard_id.to_string())
            .or_default()
            .clone()
    }

    pub fn add(&self, shard: &ShardMetrics, counter: Counter, n: u64, now: Instant) {
        if n > 0 {
            shard.add(counter, n, self.second(now));
        }
    }

    pub fn add_pending(&self, shard: &ShardMetrics, delta: i64) {
        shard.pending.fetch_add(delta, Relaxed);
    }

    /// Records one delivered record's latency, counted in the second `now` falls in.
    pub fn record_latency(&self, shard: &ShardMetrics, latency: Duration, now: Instant) {
        let us = (latency.as_micros() as u64).clamp(1, 3_600_000_000);
        let second = self.second(now);
        let mut l = shard.latency_us.lock().expect("metrics lock");
        l.close_second(&shard.ring, second);
        l.second = second;
        l.total.record(us).ok();
        l.this_second.record(us).ok();
    }

    pub fn count_failure(&self, reason: String) {
        *self
            .failed_by_reason
            .lock()
            .expect("metrics lock")
            .entry(reason)
            .or_default() += 1;
    }

    /// Counts a request sent.
    pub fn count_request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    /// Notes one failed attempt (not a throttle) of a Kinesis record.
    pub fn count_error(&self, code: &str, message: &str) {
        let mut errors = self.errors_by_code.lock().expect("metrics lock");
        let entry = errors.entry(code.to_string()).or_default();
        entry.count += 1;
        if entry.last_message != message {
            entry.last_message = message.to_string();
        }
    }

    /// A copy of every counter, with `history` seconds of per-second series.
    pub fn snapshot(&self, history: usize) -> MetricsSnapshot {
        let now_second = self.second(Instant::now());
        let history = history.min(HISTORY_SECS);
        let shards = self
            .shards
            .read()
            .expect("metrics lock")
            .iter()
            .map(|(id, m)| {
                let mut latency = m.latency_us.lock().expect("metrics lock");
                latency.close_second(&m.ring, now_second);
                let per_sec = |value: usize| m.ring.series(now_second, history, value);
                let quantile = |q: f64| {
                    Duration::from_micros(if latency.total.is_empty() {
                        0
                    } else {
                        latency.total.value_at_quantile(q)
                    })
                };
                let counted = |counter: Counter| per_sec(counter as usize);
                let snapshot = ShardSnapshot {
                    user_records: m.total(Counter::UserRecords),
                    kinesis_records: m.total(Counter::KinesisRecords),
                    bytes: m.total(Counter::Bytes),
                    throttled: m.total(Counter::Throttled),
                    errors: m.total(Counter::Errors),
                    retries: m.total(Counter::Retries),
                    failed: m.total(Counter::Failed),
                    pending: m.pending.load(Relaxed),
                    latency_p50: quantile(0.5),
                    latency_p99: quantile(0.99),
                    records_per_sec: counted(Counter::UserRecords),
                    kinesis_records_per_sec: counted(Counter::KinesisRecords),
                    bytes_per_sec: counted(Counter::Bytes),
                    throttled_per_sec: counted(Counter::Throttled),
                    latency_p50_us_per_sec: per_sec(P50),
                    latency_p99_us_per_sec: per_sec(P99),
                };
                (id.clone(), snapshot)
            })
            .collect();
        MetricsSnapshot {
            elapsed: self.start.elapsed(),
            shards,
            failed_by_reason: self.failed_by_reason.lock().expect("metrics lock").clone(),
            errors_by_code: self.errors_by_code.lock().expect("metrics lock").clone(),
            requests: self.requests.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_totals_and_per_second_buckets() {
        let metrics = ProducerMetrics::new();
        let shard = metrics.shard("shardId-000000000001");
        let now = Instant::now();
        metrics.add(&shard, Counter::UserRecords, 5, now);
        metrics.add(&shard, Counter::Throttled, 2, now);
        metrics.add_pending(&shard, 3);
        metrics.record_latency(&shard, Duration::from_millis(20), now);
        let snap = metrics.snapshot(3);
        let s = &snap.shards["shardId-000000000001"];
        assert_eq!(s.user_records, 5);
        assert_eq!(s.throttled, 2);
        assert_eq!(s.pending, 3);
        assert_eq!(s.records_per_sec.len(), 3);
        assert_eq!(s.records_per_sec.iter().sum::<u64>(), 5);
        assert!(s.latency_p50 >= Duration::from_millis(19));
    }

    #[test]
    fn each_second_keeps_its_own_latency_quantiles_once_it_is_over() {
        let metrics = ProducerMetrics::new();
        let shard = metrics.shard("s");
        let start = metrics.start;
        for (second, ms) in [(0u64, 10u64), (0, 10), (1, 200)] {
            let now = start + Duration::from_secs(second) + Duration::from_millis(1);
            metrics.add(&shard, Counter::UserRecords, 1, now);
            metrics.record_latency(&shard, Duration::from_millis(ms), now);
        }
        // Second 0 closed when second 1's record came; second 1 closes when a snapshot
        // (or record) sees a later second.
        let ms = |i: usize, now: u64| -> Vec<u64> {
            shard
                .ring
                .series(now, 2, i)
                .iter()
                .map(|v| v / 1000)
                .collect()
        };
        assert_eq!(ms(P50, 1), vec![10, 0]);
        shard
            .latency_us
            .lock()
            .unwrap()
            .close_second(&shard.ring, 2);
        assert_eq!(ms(P99, 1), vec![10, 200]);
        assert_eq!(ms(P50, 1), vec![10, 200]);
    }

    #[test]
    fn totals_outlive_the_window() {
        let metrics = ProducerMetrics::new();
        let shard = metrics.shard("s");
        shard.add(Counter::Bytes, 7, 0);
        shard.add(Counter::Bytes, 1, HISTORY_SECS as u64);
        let bytes = shard
            .ring
            .series(HISTORY_SECS as u64, HISTORY_SECS, Counter::Bytes as usize);
        assert_eq!(bytes.iter().sum::<u64>(), 1);
        assert_eq!(shard.total(Counter::Bytes), 8);
    }
}
