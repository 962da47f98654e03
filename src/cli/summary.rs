//! The end-of-run summary of `kwb put`: tallied from outcomes, printed as text or JSON.

use crate::hot_keys::report::Report;
use crate::hot_keys::HotKeys;
use crate::kinesis::admin::StreamFacts;
use crate::kinesis::hash_key::HashKey;
use crate::producer::config::Api;
use crate::producer::metrics::MetricsSnapshot;
use crate::producer::outcome::Outcome;
use crate::producer::PendingOutcome;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Counts outcomes as they resolve.
pub struct Tally {
    ok: u64,
    failed_by_reason: BTreeMap<String, u64>,
    first_failure: Option<String>,
    per_shard: BTreeMap<String, u64>,
    /// Of delivered records only.
    latency_us: Histogram<u64>,
    /// The delivered records' keys per shard (`kwb put --hotkeys`).
    hot_keys: Option<HotKeys>,
}

impl Tally {
    /// A tally that also counts the delivered records' keys when given `hot_keys`.
    pub fn new(hot_keys: Option<HotKeys>) -> Tally {
        Tally {
            ok: 0,
            failed_by_reason: BTreeMap::new(),
            first_failure: None,
            per_shard: BTreeMap::new(),
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("bounds"),
            hot_keys,
        }
    }
}

/// A record's key, hash key and billed bytes, for counting hot keys when it is delivered.
pub struct KeyNote {
    pub key: String,
    pub hash_key: HashKey,
    pub bytes: u64,
}

/// What the tally is told about one record.
pub enum Resolved {
    /// Accepted by the producer; its outcome is still to come.
    Pending(PendingOutcome, Option<KeyNote>),
    /// Refused before it was queued (bad key, too large, ...).
    Refused { label: String, message: String },
}

impl Tally {
    /// Counts a record refused before it was queued.
    pub fn add_failure(&mut self, label: String, message: String) {
        *self.failed_by_reason.entry(label).or_default() += 1;
        self.first_failure.get_or_insert(message);
    }

    /// Counts a record's outcome (and its key, when delivered and noted).
    pub fn add_outcome(&mut self, outcome: &Outcome, note: Option<KeyNote>) {
        match outcome {
            Outcome::Delivered(d) => {
                if let (Some(keys), Some(note)) = (&mut self.hot_keys, note) {
                    let first_of_its_kinesis_record = !d.aggregated || d.sub_sequence_number == 0;
                    keys.add(
                        &d.shard_id,
                        &note.key,
                        note.hash_key,
                        note.bytes,
                        first_of_its_kinesis_record,
                        Some(std::time::SystemTime::now()),
                    );
                }
                let us = (d.latency.as_micros() as u64).clamp(1, 3_600_000_000);
                self.latency_us.record(us).ok();
                self.ok += 1;
                *self.per_shard.entry(d.shard_id.clone()).or_default() += 1;
            }
            Outcome::Failed(f) => {
                *self.failed_by_reason.entry(f.reason.label()).or_default() += 1;
                self.first_failure
                    .get_or_insert_with(|| f.reason.to_string());
            }
        }
    }

    pub fn resolved(&self) -> u64 {
        self.ok + self.failed_by_reason.values().sum::<u64>()
    }

    pub fn ok(&self) -> u64 {
        self.ok
    }

    pub fn failed(&self) -> u64 {
        self.failed_by_reason.values().sum()
    }
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// What `kwb put --json` prints.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub stream: String,
    pub target: String,
    pub records: u64,
    pub ok: u64,
    pub failed: u64,
    pub failed_by_reason: BTreeMap<String, u64>,
    pub throttled: u64,
    pub retries: u64,
    pub kinesis_records: u64,
    /// The call records went out with ("put-records" or "put-record") and how many calls were
    /// made, retries included.
    pub api: &'static str,
    pub api_calls: u64,
    pub elapsed_s: f64,
    /// Of `elapsed_s`: composing and putting records, then waiting for the last to resolve.
    pub sending_s: f64,
    pub draining_s: f64,
    pub records_per_s: f64,
    pub per_shard: BTreeMap<String, u64>,
    /// From `put` to the service's answer, of delivered records.
    pub latency_ms: Latency,
    pub interrupted: bool,
    /// The seed of the run's random keys and data: `--seed` with it repeats the run.
    pub seed: u64,
    /// The stream as the service described it: on-demand, placing records itself (AUTO),
    /// the largest record it takes.
    pub stream_facts: StreamFacts,
    /// Per shard, the delivered records' top keys and advice, timed by their delivery
    /// (`--hotkeys`; the object `kwb hotkeys --json` prints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_keys: Option<Report>,
    #[serde(skip)]
    pub first_failure: Option<String>,
}

/// What a run was, apart from its outcomes.
pub struct Run {
    pub stream: String,
    pub target: String,
    pub records: u64,
    pub elapsed: Duration,
    /// The part of `elapsed` spent composing and putting records; the rest was draining.
    pub sending: Duration,
    pub interrupted: bool,
    pub seed: u64,
    pub api: Api,
    pub facts: StreamFacts,
}

impl Summary {
    pub fn new(
        run: Run,
        tally: Tally,
        metrics: &MetricsSnapshot,
        open_shards: impl Iterator<Item = String>,
    ) -> Summary {
        let mut per_shard: BTreeMap<String, u64> = open_shards.map(|s| (s, 0)).collect();
        per_shard.extend(tally.per_shard);
        let ms = |q: f64| {
            if tally.latency_us.is_empty() {
                0.0
            } else {
                tally.latency_us.value_at_quantile(q) as f64 / 1000.0
            }
        };
        let elapsed_s = run.elapsed.as_secs_f64();
        let hot_keys = tally
            .hot_keys
            .map(|keys| Report::new(&run.stream, &keys, 5, run.facts.on_demand));
        Summary {
            stream: run.stream,
            target: run.target,
            records: run.records,
            ok: tally.ok,
            failed: tally.failed_by_reason.values().sum(),
            failed_by_reason: tally.failed_by_reason,
            throttled: metrics.sum(|s| s.throttled),
            retries: metrics.sum(|s| s.retries),
            kinesis_records: metrics.sum(|s| s.kinesis_records),
            api: match run.api {
                Api::PutRecords => "put-records",
                Api::PutRecord => "put-record",
            },
            api_calls: metrics.requests,
            elapsed_s,
            sending_s: run.sending.as_secs_f64(),
            draining_s: run.elapsed.saturating_sub(run.sending).as_secs_f64(),
            records_per_s: if elapsed_s > 0.0 {
                tally.ok as f64 / elapsed_s
            } else {
                0.0
            },
            per_shard,
            latency_ms: Latency {
                p50: ms(0.5),
                p99: ms(0.99),
                max: ms(1.0),
            },
            interrupted: run.interrupted,
            hot_keys,
            seed: run.seed,
            stream_facts: run.facts,
            first_failure: tally.first_failure,
        }
    }

    /// The human-readable form.
    pub fn render(&self) -> String {
        let mut out = format!(
            "stream {} on {}{}\n",
            self.stream,
            self.target,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
        out += &format!(
            "records {}  ok {}  failed {}  throttled {}  retries {}  ({:.0} records/s)\n",
            self.records, self.ok, self.failed, self.throttled, self.retries, self.records_per_s
        );
        out += &format!(
            "elapsed {:.2} s: sending {:.2} s, draining {:.2} s\n",
            self.elapsed_s, self.sending_s, self.draining_s
        );
        out += &format!(
            "latency (delivered) p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  kinesis records {}  seed {}\n",
            self.latency_ms.p50, self.latency_ms.p99, self.latency_ms.max, self.kinesis_records, self.seed
        );
        out += &format!(
            "{} calls {} ({:.0}/s)\n",
            self.api,
            self.api_calls,
            if self.elapsed_s > 0.0 {
                self.api_calls as f64 / self.elapsed_s
            } else {
                0.0
            }
        );
        out += &format!("{:<24}{:>10}{:>8}\n", "shard", "records", "share");
        for (shard, n) in &self.per_shard {
            let share = if self.ok == 0 {
                0.0
            } else {
                *n as f64 * 100.0 / self.ok as f64
            };
            out += &format!("{shard:<24}{n:>10}{share:>7.1}%\n");
        }
        if let Some(report) = &self.hot_keys {
            out += "hot keys (of the delivered records, timed by their delivery):\n";
            out += &report.render();
        }
        if !self.failed_by_reason.is_empty() {
            out += "failed by reason:\n";
            for (reason, n) in &self.failed_by_reason {
                out += &format!("  {reason:<40}{n:>10}\n");
            }
        }
        out
    }
}
