//! What a stage measured: the producer's counts between two snapshots (the stage's start, past
//! its settling time, and its end), per shard and for the stream, the API calls it took, and the
//! hottest shard's busiest keys with the advice for it.

use crate::hot_keys::advice::{advise, ShardLoad, StreamLoad, HOT};
use crate::hot_keys::KeyShare;
use crate::producer::metrics::{MetricsSnapshot, ShardSnapshot};
use crate::tui::keylog::SentView;
use crate::tui::load::Load;
use serde::Serialize;
use std::collections::BTreeMap;

/// One shard over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShardMeasure {
    /// User records delivered.
    pub records: u64,
    /// Of the stream's delivered user records, 0 to 1.
    pub share: f64,
    pub records_per_sec: f64,
    pub kinesis_records_per_sec: f64,
    pub bytes_per_sec: f64,
    /// Of the nearer write limit, on average: 1 is the limit.
    pub limit_use: f64,
    /// Attempts the stream throttled.
    pub throttled: u64,
    /// Open when the stage ended.
    pub open: bool,
}

/// A stage's numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measure {
    /// Seconds measured (the stage less its settling time).
    pub seconds: f64,
    /// User records delivered, per second, and the Kinesis records that carried them.
    pub records: u64,
    pub records_per_sec: f64,
    pub kinesis_records_per_sec: f64,
    /// PutRecords or PutRecord calls, retries included.
    pub api_calls_per_sec: f64,
    pub calls_per_record: f64,
    pub kinesis_records_per_record: f64,
    pub throttled: u64,
    pub retries: u64,
    /// Records that failed in the whole stage, settling time included.
    pub failed: u64,
    /// Put latency over the measured seconds, ms: the median (each second's weighted by its
    /// records) and the slowest second's p99.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub open_shards: usize,
    pub shards: BTreeMap<String, ShardMeasure>,
    /// The shard nearest its limits, its busiest keys lately and the advice for it.
    pub hottest: Option<String>,
    pub top_keys: Vec<KeyShare>,
    pub advice: Option<String>,
}

/// Over the last `seconds` complete seconds of `to` (a snapshot with that much history): the
/// median put latency, each second's weighted by the records it delivered, and the slowest
/// second's p99, in ms.
fn window_latency(to: &MetricsSnapshot, seconds: usize) -> (f64, f64) {
    let (mut weighted, mut records, mut p99) = (0.0, 0u64, 0u64);
    for shard in to.shards.values() {
        let complete = shard.records_per_sec.len().saturating_sub(1);
        for i in complete.saturating_sub(seconds)..complete {
            let n = shard.records_per_sec[i];
            let at = |v: &[u64]| v.get(i).copied().unwrap_or(0);
            weighted += at(&shard.latency_p50_us_per_sec) as f64 * n as f64;
            records += n;
            p99 = p99.max(at(&shard.latency_p99_us_per_sec));
        }
    }
    (
        weighted / records.max(1) as f64 / 1000.0,
        p99 as f64 / 1000.0,
    )
}

impl Measure {
    /// The counts from `from` to `to`; `stage_start` for the failures, which count from the
    /// stage's very start; `open` the shards open at the end.
    pub fn between(
        stage_start: &MetricsSnapshot,
        from: &MetricsSnapshot,
        to: &MetricsSnapshot,
        open: &[String],
    ) -> Measure {
        let seconds = to
            .elapsed
            .saturating_sub(from.elapsed)
            .as_secs_f64()
            .max(1e-3);
        let empty = ShardSnapshot::default();
        let delta = |id: &str, f: fn(&ShardSnapshot) -> u64| {
            f(to.shards.get(id).unwrap_or(&empty))
                .saturating_sub(f(from.shards.get(id).unwrap_or(&empty)))
        };
        let mut shards: BTreeMap<String, ShardMeasure> = to
            .shards
            .keys()
            .map(|id| {
                let per_sec = |f| delta(id, f) as f64 / seconds;
                let kinesis = per_sec(|s| s.kinesis_records);
                let bytes = per_sec(|s| s.bytes);
                let shard = ShardMeasure {
                    records: delta(id, |s| s.user_records),
                    share: 0.0,
                    records_per_sec: per_sec(|s| s.user_records),
                    kinesis_records_per_sec: kinesis,
                    bytes_per_sec: bytes,
                    limit_use: Load {
                        records: kinesis,
                        bytes,
                        throttled: 0.0,
                    }
                    .utilisation(),
                    throttled: delta(id, |s| s.throttled),
                    open: open.contains(id),
                };
                (id.clone(), shard)
            })
            .collect();
        for id in open {
            shards.entry(id.clone()).or_insert_with(|| ShardMeasure {
                open: true,
                ..ShardMeasure::default()
            });
        }
        let records: u64 = shards.values().map(|s| s.records).sum();
        for shard in shards.values_mut() {
            shard.share = shard.records as f64 / records.max(1) as f64;
        }
        let kinesis: f64 = shards.values().map(|s| s.kinesis_records_per_sec).sum();
        let calls = to.requests.saturating_sub(from.requests);
        let (latency_p50_ms, latency_p99_ms) = window_latency(to, seconds.floor() as usize);
        let hottest = shards
            .iter()
            .filter(|(_, s)| s.open)
            .max_by(|a, b| a.1.limit_use.total_cmp(&b.1.limit_use))
            .map(|(id, _)| id.clone());
        Measure {
            seconds,
            records,
            records_per_sec: records as f64 / seconds,
            kinesis_records_per_sec: kinesis,
            api_calls_per_sec: calls as f64 / seconds,
            calls_per_record: calls as f64 / records.max(1) as f64,
            kinesis_records_per_record: kinesis * seconds / records.max(1) as f64,
            throttled: shards.values().map(|s| s.throttled).sum(),
            retries: to
                .sum(|s| s.retries)
                .saturating_sub(from.sum(|s| s.retries)),
            failed: to.failed().saturating_sub(stage_start.failed()),
            latency_p50_ms,
            latency_p99_ms,
            open_shards: open.len(),
            shards,
            hottest,
            top_keys: Vec::new(),
            advice: None,
        }
    }

    /// Shards that used at least `HOT` of a write limit.
    pub fn hot_shards(&self) -> Vec<&str> {
        self.shards_where(|s| s.limit_use >= HOT)
    }

    pub fn throttled_shards(&self) -> Vec<&str> {
        self.shards_where(|s| s.throttled > 0)
    }

    fn shards_where(&self, keep: impl Fn(&ShardMeasure) -> bool) -> Vec<&str> {
        self.shards
            .iter()
            .filter(|(_, s)| keep(s))
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Adds the hottest shard's keys as the sender saw them lately, and the advice for it.
    pub fn with_keys(mut self, stream: &str, sent: SentView, on_demand: bool) -> Measure {
        let Some(id) = self.hottest.clone() else {
            return self;
        };
        let shard = &self.shards[&id];
        let mut load = ShardLoad {
            stream,
            shard_id: &id,
            records_per_sec: shard.records_per_sec,
            kinesis_records_per_sec: shard.kinesis_records_per_sec,
            bytes_per_sec: shard.bytes_per_sec,
            busiest: None,
            top_key: sent.top_keys.first().map(KeyShare::weight),
            split_at: None,
        };
        load.split_at = sent.split_at(load.bytes_bind());
        let whole = StreamLoad {
            on_demand,
            open_shards: self.open_shards,
            kinesis_records_per_sec: self.kinesis_records_per_sec,
            bytes_per_sec: self.shards.values().map(|s| s.bytes_per_sec).sum(),
        };
        self.advice = Some(advise(&load, &whole).to_string());
        self.top_keys = sent.top_keys;
        self
    }
}
