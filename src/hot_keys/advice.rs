//! One line of advice per shard, from its numbers alone: is it hot, why, and what to do.
//!
//! The causes, in the order they are checked: one key dominates the shard (splitting cannot
//! spread a single key), its records are large, its records are small and unaggregated (the
//! records limit binds before the bytes limit), the whole stream is over its shards' limits (add
//! shards), or the shard's keys are spread (split it at the hash key that divides its traffic most evenly).

use crate::kinesis::hash_key::HashKey;
use crate::producer::config::{SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};

/// A shard is hot from this share of a write limit in its busiest second.
pub const HOT: f64 = 0.8;
/// One key dominates a shard from this share of its traffic.
const DOMINANT: f64 = 0.5;
/// Records from this size on are large: four of them fill a shard's second.
const LARGE_RECORD_BYTES: f64 = 256.0 * 1024.0;

/// What a shard carried per second over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardLoad<'a> {
    pub stream: &'a str,
    pub shard_id: &'a str,
    pub records_per_sec: f64,
    /// Kinesis records (aggregates count once): what the records limit counts.
    pub kinesis_records_per_sec: f64,
    pub bytes_per_sec: f64,
    /// The most Kinesis records and bytes it took in one second, where records had times.
    pub busiest: Option<(f64, f64)>,
    /// The heaviest key and its share of the shard's records and bytes.
    pub top_key: Option<(&'a str, f64, f64)>,
    /// The hash key that splits the shard's traffic most evenly, where a split balances it.
    pub split_at: Option<HashKey>,
}

fn limit_use(kinesis_records: f64, bytes: f64) -> (f64, f64) {
    (
        kinesis_records / SHARD_RECORDS_PER_SEC,
        bytes / SHARD_BYTES_PER_SEC,
    )
}

impl ShardLoad<'_> {
    /// Of the records limit and of the bytes limit on average, 0 to 1 and beyond.
    pub fn limit_use(&self) -> (f64, f64) {
        limit_use(self.kinesis_records_per_sec, self.bytes_per_sec)
    }

    /// Kinesis records and bytes in the shard's busiest second (the average without times).
    pub fn peak_per_sec(&self) -> (f64, f64) {
        self.busiest
            .unwrap_or((self.kinesis_records_per_sec, self.bytes_per_sec))
    }

    /// Of each limit in the shard's busiest second (the average without times).
    pub fn peak_use(&self) -> (f64, f64) {
        let (records, bytes) = self.peak_per_sec();
        limit_use(records, bytes)
    }

    /// Whether the bytes limit is nearer than the records limit.
    pub fn bytes_bind(&self) -> bool {
        let (records, bytes) = self.peak_use();
        bytes >= records
    }

    /// "R % of its records limit and B % of its bytes limit in its busiest second (r % and b %
    /// on average)", or on average alone without times.
    fn describe(&self) -> String {
        let (records, bytes) = self.limit_use();
        if self.busiest.is_none() {
            return format!(
                "{} of its records limit and {} of its bytes limit on average",
                percent(records),
                percent(bytes)
            );
        }
        let (peak_records, peak_bytes) = self.peak_use();
        format!(
            "{} of its records limit and {} of its bytes limit in its busiest second ({} and {} on average)",
            percent(peak_records),
            percent(peak_bytes),
            percent(records),
            percent(bytes)
        )
    }
}

/// The whole stream: its open shards and what they carried per second together (each shard's
/// busiest second, where records had times: the stream needs room for every shard's peak).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamLoad {
    /// Kinesis manages its shards: no splitting or scaling by hand.
    pub on_demand: bool,
    pub open_shards: usize,
    pub kinesis_records_per_sec: f64,
    pub bytes_per_sec: f64,
}

impl StreamLoad {
    /// The open shards the stream's traffic needs at `HOT` of their limits, spread evenly.
    fn shards_needed(&self) -> usize {
        let records = self.kinesis_records_per_sec / (SHARD_RECORDS_PER_SEC * HOT);
        let bytes = self.bytes_per_sec / (SHARD_BYTES_PER_SEC * HOT);
        records.max(bytes).ceil().max(1.0) as usize
    }
}

fn percent(fraction: f64) -> String {
    format!("{:.0} %", fraction * 100.0)
}

/// The advice for one shard: whether it is hot, its load in words, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub hot: bool,
    /// Its use of the limits, in words.
    pub load: String,
    /// Why it is hot and what to do (empty when it is not hot).
    pub action: String,
}

impl std::fmt::Display for Advice {
    /// "not hot: LOAD" or "hot (LOAD): ACTION".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.hot {
            write!(f, "hot ({}): {}", self.load, self.action)
        } else {
            write!(f, "not hot: {}", self.load)
        }
    }
}

/// The advice for one shard.
pub fn advise(shard: &ShardLoad, stream: &StreamLoad) -> Advice {
    let (records_use, bytes_use) = shard.peak_use();
    let load = shard.describe();
    let hot = records_use.max(bytes_use) >= HOT;
    let action = if hot {
        action(shard, stream)
    } else {
        String::new()
    };
    Advice { hot, load, action }
}

/// What to do about a hot shard, by the first cause that holds.
fn action(shard: &ShardLoad, stream: &StreamLoad) -> String {
    let what = if shard.bytes_bind() {
        "bytes"
    } else {
        "records"
    };
    if let Some((key, records_share, bytes_share)) = shard.top_key {
        let share = if shard.bytes_bind() {
            bytes_share
        } else {
            records_share
        };
        if share >= DOMINANT {
            return format!(
                "key {key:?} carries {} of its {what}, and splitting cannot spread one key; give it more keys (a suffix, or --key random) or send it less",
                percent(share)
            );
        }
    }
    let average = shard.bytes_per_sec / shard.records_per_sec.max(f64::MIN_POSITIVE);
    if shard.bytes_bind() && average >= LARGE_RECORD_BYTES {
        return format!(
            "its records average {:.0} KiB, so {:.0} of them fill a second of the shard; send smaller records or split it",
            average / 1024.0,
            SHARD_BYTES_PER_SEC / average
        );
    }
    let unaggregated = shard.kinesis_records_per_sec >= shard.records_per_sec * 0.99;
    if !shard.bytes_bind() && unaggregated {
        return format!(
            "the records limit binds first, with records of {average:.0} bytes on average; aggregation (the KPL's; kwb put aggregates unless --no-aggregate) packs them into far fewer Kinesis records"
        );
    }
    if stream.on_demand {
        return "the stream is on-demand: Kinesis splits hot shards and adds shards as its traffic grows (at once up to twice its previous peak), and resharding by hand is not allowed; until it has, spread the keys of this shard or send it less".to_string();
    }
    let needed = stream.shards_needed();
    if needed > stream.open_shards {
        return format!(
            "the stream carries more than its {} open shards take: add shards, to {needed} at least (kwb streams scale {} {needed})",
            stream.open_shards, shard.stream
        );
    }
    match shard.split_at {
        Some(at) => format!(
            "its keys spread; split it at hash key {at}, which divides its {what} most evenly (kwb streams split {} {} --at {at})",
            shard.stream, shard.shard_id
        ),
        None => format!(
            "no hash key splits its {what} evenly enough (a few keys carry most of it, or its records came with explicit hash keys Kinesis does not return); spread its keys or send it less"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advise_text(shard: &ShardLoad, stream: &StreamLoad) -> String {
        advise(shard, stream).to_string()
    }

    fn load(records: f64, kinesis_records: f64, bytes: f64) -> ShardLoad<'static> {
        ShardLoad {
            stream: "orders",
            shard_id: "shardId-000000000002",
            records_per_sec: records,
            kinesis_records_per_sec: kinesis_records,
            bytes_per_sec: bytes,
            busiest: None,
            top_key: Some(("tenant-42", 0.1, 0.1)),
            split_at: Some(HashKey(12345)),
        }
    }

    const ROOMY: StreamLoad = StreamLoad {
        on_demand: false,
        open_shards: 4,
        kinesis_records_per_sec: 1200.0,
        bytes_per_sec: 500_000.0,
    };

    #[test]
    fn a_shard_under_its_limits_is_not_hot() {
        let advice = advise_text(&load(700.0, 700.0, 70_000.0), &ROOMY);
        assert_eq!(
            advice,
            "not hot: 70 % of its records limit and 7 % of its bytes limit on average"
        );
    }

    #[test]
    fn one_dominant_key_is_named_and_splitting_is_not_advised() {
        let mut shard = load(900.0, 50.0, 1_000_000.0);
        shard.top_key = Some(("tenant-42", 0.91, 0.4));
        let advice = advise_text(&shard, &ROOMY);
        assert!(advice
            .starts_with("hot (5 % of its records limit and 95 % of its bytes limit on average)"));
        // The bytes limit binds, so the key's share of the bytes counts: 40 % does not dominate.
        assert!(
            !advice.contains("carries") && advice.contains("split it at"),
            "{advice}"
        );
        shard.top_key = Some(("tenant-42", 0.3, 0.91));
        let advice = advise_text(&shard, &ROOMY);
        assert!(
            advice.contains("key \"tenant-42\" carries 91 % of its bytes"),
            "{advice}"
        );
        assert!(advice.contains("splitting cannot spread one key"));
        assert!(!advice.contains("split it at"));
    }

    #[test]
    fn large_records_are_named_with_how_many_fill_a_second() {
        let advice = advise_text(&load(3.0, 3.0, 900_000.0), &ROOMY);
        assert!(
            advice.contains("records average 293 KiB, so 3 of them fill a second"),
            "{advice}"
        );
    }

    #[test]
    fn small_unaggregated_records_get_aggregation() {
        let advice = advise_text(&load(1000.0, 1000.0, 100_000.0), &ROOMY);
        assert!(advice.contains("the records limit binds first, with records of 100 bytes"));
        assert!(advice.contains("aggregation"), "{advice}");
        // Aggregated already: the next cause is looked at instead.
        let advice = advise_text(&load(20_000.0, 1000.0, 900_000.0), &ROOMY);
        assert!(!advice.contains("aggregation"), "{advice}");
    }

    #[test]
    fn a_stream_over_its_limits_gets_more_shards() {
        let busy = StreamLoad {
            on_demand: false,
            open_shards: 2,
            kinesis_records_per_sec: 500.0,
            bytes_per_sec: 5.0 * SHARD_BYTES_PER_SEC,
        };
        let advice = advise_text(&load(100.0, 100.0, 1.2 * SHARD_BYTES_PER_SEC), &busy);
        // 5 MiB/s at 80 % of 1 MiB/s a shard: 7 shards.
        assert!(
            advice.contains("add shards, to 7 at least (kwb streams scale orders 7)"),
            "{advice}"
        );
    }

    #[test]
    fn an_on_demand_stream_is_not_resharded_by_hand() {
        let on_demand = StreamLoad {
            on_demand: true,
            ..ROOMY
        };
        let advice = advise_text(&load(100.0, 100.0, 1.1 * SHARD_BYTES_PER_SEC), &on_demand);
        assert!(advice.contains("the stream is on-demand"), "{advice}");
        assert!(!advice.contains("kwb streams"), "{advice}");
        // What kwb's producer can change still comes first.
        let advice = advise_text(&load(1000.0, 1000.0, 100_000.0), &on_demand);
        assert!(advice.contains("aggregation"), "{advice}");
    }

    #[test]
    fn spread_keys_on_a_hot_shard_get_a_split_at_the_balancing_key() {
        let advice = advise_text(&load(100.0, 100.0, 1.1 * SHARD_BYTES_PER_SEC), &ROOMY);
        assert_eq!(
            advice,
            "hot (10 % of its records limit and 110 % of its bytes limit on average): its keys spread; split it at hash key 12345, which divides its bytes most evenly (kwb streams split orders shardId-000000000002 --at 12345)"
        );
        let mut narrow = load(100.0, 100.0, 1.1 * SHARD_BYTES_PER_SEC);
        narrow.split_at = None;
        assert!(advise_text(&narrow, &ROOMY).contains("no hash key splits its bytes evenly enough"));
    }

    #[test]
    fn a_busy_second_makes_a_shard_hot_whatever_its_average() {
        let mut shard = load(200.0, 200.0, 20_000.0);
        assert!(advise_text(&shard, &ROOMY).starts_with("not hot"));
        shard.busiest = Some((950.0, 95_000.0));
        let advice = advise_text(&shard, &ROOMY);
        assert!(
            advice.starts_with("hot (95 % of its records limit and 9 % of its bytes limit in its busiest second (20 % and 2 % on average))"),
            "{advice}"
        );
    }
}
