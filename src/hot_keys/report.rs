//! The hot-keys report of a stream: per shard its load, top keys and advice, as JSON (the
//! `kwb hotkeys --json` contract) or as text.

use crate::hot_keys::advice::{advise, ShardLoad, StreamLoad};
use crate::hot_keys::space_saving::Rank;
use crate::hot_keys::{HotKeys, KeyShare, ShardTally};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

impl<'a> ShardLoad<'a> {
    /// A shard's load over `seconds`, without its heaviest key or split point yet.
    fn of(stream: &'a str, tally: &'a ShardTally, seconds: f64) -> ShardLoad<'a> {
        ShardLoad {
            stream,
            shard_id: &tally.shard.shard_id,
            records_per_sec: tally.records as f64 / seconds,
            kinesis_records_per_sec: tally.kinesis_records as f64 / seconds,
            bytes_per_sec: tally.bytes as f64 / seconds,
            busiest: tally
                .busiest()
                .map(|b| (b.kinesis_records as f64, b.bytes as f64)),
            top_key: None,
            split_at: None,
        }
    }
}

/// `{"stream":S,"seconds":F,"records":N,"shards":{"shardId-...":{...}}}`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub stream: String,
    /// The window the rates are over.
    pub seconds: f64,
    pub records: u64,
    pub shards: BTreeMap<String, ShardReport>,
    /// Stopped before every record was counted (Ctrl-C): the numbers cover what was.
    pub interrupted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShardReport {
    pub open: bool,
    pub records: u64,
    pub bytes: u64,
    pub kinesis_records: u64,
    pub records_per_second: f64,
    pub bytes_per_second: f64,
    /// Of the records limit and of the bytes limit on average (1 is the limit).
    pub records_limit_use: f64,
    pub bytes_limit_use: f64,
    /// The same in the shard's busiest second (by arrival; the average without times).
    pub peak_records_limit_use: f64,
    pub peak_bytes_limit_use: f64,
    /// Heaviest by records; `share` is of the shard's records.
    pub top_keys: Vec<KeyShare>,
    /// Heaviest by bytes; `bytes_share` is of the shard's bytes.
    pub top_keys_by_bytes: Vec<KeyShare>,
    /// The hash key (decimal) that divides the shard's traffic most evenly, when a split there
    /// leaves neither child over two thirds of it; null otherwise.
    pub split_at: Option<String>,
    pub advice: String,
}

impl Report {
    /// The report of `keys` over the one-second windows their records span (at least one: the
    /// limits are per second), with `top` keys per shard; an on-demand stream's shards are
    /// Kinesis's to split and add.
    pub fn new(stream: &str, keys: &HotKeys, top: usize, on_demand: bool) -> Report {
        let seconds = keys.seconds().unwrap_or(1) as f64;
        let loads: Vec<(&ShardTally, ShardLoad)> = keys
            .shards()
            .map(|tally| (tally, ShardLoad::of(stream, tally, seconds)))
            .collect();
        // The stream needs room for each open shard's busiest second.
        let mut whole = StreamLoad {
            on_demand,
            open_shards: 0,
            kinesis_records_per_sec: 0.0,
            bytes_per_sec: 0.0,
        };
        for (_, load) in loads.iter().filter(|(tally, _)| tally.shard.open) {
            let (records, bytes) = load.peak_per_sec();
            whole.open_shards += 1;
            whole.kinesis_records_per_sec += records;
            whole.bytes_per_sec += bytes;
        }
        let shards = loads
            .into_iter()
            .map(|(tally, mut load)| {
                let bytes_bind = load.bytes_bind();
                let split_at = tally.balancing_hash_key(bytes_bind);
                let rank = if bytes_bind {
                    Rank::Bytes
                } else {
                    Rank::Records
                };
                let heaviest = tally.top(1, rank);
                load.split_at = split_at;
                load.top_key = heaviest.first().map(KeyShare::weight);
                let (records_limit_use, bytes_limit_use) = load.limit_use();
                let (peak_records_limit_use, peak_bytes_limit_use) = load.peak_use();
                let advice = if tally.shard.open {
                    advise(&load, &whole).to_string()
                } else {
                    "closed (split or merged): its children carry its hash keys now".to_string()
                };
                let report = ShardReport {
                    open: tally.shard.open,
                    records: tally.records,
                    bytes: tally.bytes,
                    kinesis_records: tally.kinesis_records,
                    records_per_second: load.records_per_sec,
                    bytes_per_second: load.bytes_per_sec,
                    records_limit_use,
                    bytes_limit_use,
                    peak_records_limit_use,
                    peak_bytes_limit_use,
                    top_keys: tally.top(top, Rank::Records),
                    top_keys_by_bytes: tally.top(top, Rank::Bytes),
                    split_at: split_at.map(|k| k.to_string()),
                    advice,
                };
                (tally.shard.shard_id.clone(), report)
            })
            .collect();
        Report {
            stream: stream.to_string(),
            seconds,
            records: keys.shards().map(|t| t.records).sum(),
            shards,
            interrupted: false,
        }
    }

    /// The text form: a block per shard with records, its top keys and its advice.
    pub fn render(&self) -> String {
        let mut out = format!(
            "stream {}: {} records over {:.0} s{}\n",
            self.stream,
            self.records,
            self.seconds,
            if self.interrupted {
                " (interrupted: the records counted until then)"
            } else {
                ""
            }
        );
        for (id, shard) in &self.shards {
            let _ = writeln!(
                out,
                "\n{id}{}  {} records  {:.0} records/s  {:.0} KiB/s  busiest second: {:.0} % of the records limit, {:.0} % of the bytes limit",
                if shard.open { "" } else { " (closed)" },
                shard.records,
                shard.records_per_second,
                shard.bytes_per_second / 1024.0,
                shard.peak_records_limit_use * 100.0,
                shard.peak_bytes_limit_use * 100.0,
            );
            for key in &shard.top_keys {
                let _ = writeln!(
                    out,
                    "  {:>5.1} %  {:>10} records  {:>10} bytes  {}",
                    key.share * 100.0,
                    key.records,
                    key.bytes,
                    // Keys are anyone's data: shown escaped, never as terminal controls.
                    key.key.escape_debug()
                );
            }
            let _ = writeln!(out, "  advice: {}", shard.advice);
        }
        out
    }
}
