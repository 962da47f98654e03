//! Hot keys: per shard, the partition keys that carry its traffic and what to do about a hot
//! one. It owns the tallies (fed with records read back or sent), their report and the advice;
//! reading and sending are the reader's and the producer's.
//!
//! Memory is fixed per shard whatever the number of distinct keys: two space-saving summaries
//! (by records and by bytes, [`space_saving`]) and a histogram of where the shard's records land
//! on its hash range, from which the hash key that splits its traffic in half is read.

pub mod advice;
pub mod report;
pub mod space_saving;

use crate::kinesis::hash_key::HashKey;
use crate::kinesis::shard_map::ShardInfo;
use serde::Serialize;
use space_saving::{Counter, Rank, SpaceSaving};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Counters per summary: every key's share is within total / 1,024 (0.1 point) of the truth.
pub const COUNTERS: usize = 1024;
/// Slices of a shard's hash range in its histogram.
const SLICES: usize = 256;

/// What one shard carried.
#[derive(Debug, Clone)]
pub struct ShardTally {
    pub shard: ShardInfo,
    /// User records and their bytes (data and partition key, as Kinesis counts them).
    pub records: u64,
    pub bytes: u64,
    /// Kinesis records: an aggregate counts once however many user records it holds.
    pub kinesis_records: u64,
    by_records: SpaceSaving,
    by_bytes: SpaceSaving,
    /// Records and bytes per 1/256 of the shard's hash range.
    slices: Box<[(u64, u64); SLICES]>,
    /// Records whose hash key is outside the shard: routed by an explicit hash key that Kinesis
    /// does not return with plain records, so their place in the range is not known.
    unplaced: u64,
    /// The one-second window (of arrival, epoch seconds) being counted and the busiest before
    /// it; None until a record has a time.
    seconds: Option<(Second, Second)>,
}

/// The whole epoch second a time falls in: the one-second windows loads are counted in.
fn epoch_second(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a shard took in one second of arrival: what its write limits count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Second {
    pub at: u64,
    pub kinesis_records: u64,
    pub bytes: u64,
}

impl Second {
    /// The larger of each count (from two seconds, perhaps).
    fn max(self, other: Second) -> Second {
        Second {
            at: self.at.max(other.at),
            kinesis_records: self.kinesis_records.max(other.kinesis_records),
            bytes: self.bytes.max(other.bytes),
        }
    }
}

impl ShardTally {
    pub fn new(shard: ShardInfo) -> ShardTally {
        ShardTally {
            shard,
            records: 0,
            bytes: 0,
            kinesis_records: 0,
            by_records: SpaceSaving::new(Rank::Records, COUNTERS),
            by_bytes: SpaceSaving::new(Rank::Bytes, COUNTERS),
            slices: Box::new([(0, 0); SLICES]),
            unplaced: 0,
            seconds: None,
        }
    }

    /// Counts one user record that arrived `at`; `new_kinesis_record` when it is not a later
    /// part of an aggregate already counted. Records come in about the order they arrived.
    pub fn add(
        &mut self,
        key: &str,
        hash_key: HashKey,
        bytes: u64,
        new_kinesis_record: bool,
        at: Option<SystemTime>,
    ) {
        self.records += 1;
        self.bytes += bytes;
        self.kinesis_records += u64::from(new_kinesis_record);
        if let Some(at) = at {
            let second = epoch_second(at);
            let (current, busiest) = self.seconds.get_or_insert((
                Second {
                    at: second,
                    ..Second::default()
                },
                Second::default(),
            ));
            if current.at != second {
                *busiest = busiest.max(*current);
                *current = Second {
                    at: second,
                    ..Second::default()
                };
            }
            current.kinesis_records += u64::from(new_kinesis_record);
            current.bytes += bytes;
        }
        self.by_records.add(key, hash_key.0, 1, bytes);
        self.by_bytes.add(key, hash_key.0, 1, bytes);
        self.unplaced += u64::from(!self.shard.contains(hash_key));
        let slice = &mut self.slices[self.slice_of(hash_key)];
        slice.0 += 1;
        slice.1 += bytes;
    }

    /// The most Kinesis records and the most bytes it took in any one second (each from its
    /// own busiest second); None when no record had a time.
    pub fn busiest(&self) -> Option<Second> {
        self.seconds.map(|(current, busiest)| busiest.max(current))
    }

    fn width(&self) -> u128 {
        self.shard.ending_hash_key - self.shard.starting_hash_key
    }

    fn slice_of(&self, hash_key: HashKey) -> usize {
        let offset = hash_key
            .0
            .clamp(self.shard.starting_hash_key, self.shard.ending_hash_key)
            - self.shard.starting_hash_key;
        // offset / (width / SLICES), without overflowing at the full 2^128 range.
        let per_slice = (self.width() / SLICES as u128).max(1);
        ((offset / per_slice) as usize).min(SLICES - 1)
    }

    /// The hash key that best splits this shard's observed traffic (records, or bytes when
    /// `by_bytes`) in half: the monitored keys are placed at their own hash keys (those that came
    /// with several explicit hash keys count as spread), the rest of
    /// each slice's traffic spread over the slice. None without traffic, when the records' places
    /// are not known, or when no split leaves either child under two thirds of the traffic (one
    /// key that carries most of it stays whole on one side).
    pub fn balancing_hash_key(&self, by_bytes: bool) -> Option<HashKey> {
        let (start, end) = (self.shard.starting_hash_key, self.shard.ending_hash_key);
        let weight = |records: u64, bytes: u64| if by_bytes { bytes } else { records };
        let mut spread: Vec<u64> = self.slices.iter().map(|s| weight(s.0, s.1)).collect();
        let total: u64 = spread.iter().sum();
        if total == 0 || start == end || self.unplaced * 10 > self.records {
            return None;
        }
        let summary = if by_bytes {
            &self.by_bytes
        } else {
            &self.by_records
        };
        let mut keys: Vec<(u128, u64)> = summary
            .counters()
            .iter()
            .filter_map(|c| {
                let hash_key = c.hash_key.filter(|&h| self.shard.contains(HashKey(h)))?;
                let (records, bytes) = c.counted();
                Some((hash_key, weight(records, bytes))).filter(|&(_, w)| w > 0)
            })
            .collect();
        for (hash_key, w) in &keys {
            let slice = &mut spread[self.slice_of(HashKey(*hash_key))];
            *slice = slice.saturating_sub(*w);
        }
        keys.sort_unstable();
        let per_slice = (self.width() / SLICES as u128).max(1);
        let half = total as f64 / 2.0;
        let mut before = 0.0;
        let mut keys = keys.into_iter().peekable();
        for (i, &here) in spread.iter().enumerate() {
            let slice_start = start + per_slice * i as u128;
            let slice_end = if i + 1 == SLICES {
                end
            } else {
                (slice_start + per_slice - 1).min(end)
            };
            // The slice's spread traffic up to a point, then the key there, in hash-key order.
            let mut from = slice_start;
            let mut spread_left = here as f64;
            loop {
                let next_key = keys.next_if(|&(h, _)| h <= slice_end);
                let until = next_key.map_or(slice_end, |(h, _)| h);
                let piece = if until >= from && slice_end > slice_start {
                    here as f64 * (until - from) as f64 / (slice_end - slice_start) as f64
                } else {
                    0.0
                }
                .min(spread_left);
                if piece > 0.0 && before + piece >= half {
                    let at = from + ((until - from) as f64 * (half - before) / piece) as u128;
                    return self.split_if_balanced(at, half, total);
                }
                before += piece;
                spread_left -= piece;
                from = until;
                let Some((hash_key, w)) = next_key else { break };
                if before + w as f64 >= half {
                    // The key goes up (split at it) or stays down (split just after it).
                    let stays_down = before + w as f64 - half < half - before;
                    let lower = if stays_down {
                        before + w as f64
                    } else {
                        before
                    };
                    let at = if stays_down {
                        hash_key.saturating_add(1)
                    } else {
                        hash_key
                    };
                    return self.split_if_balanced(at, lower, total);
                }
                before += w as f64;
            }
            before += spread_left;
        }
        None
    }

    /// `at` as a split of this shard (inside its range), if the lower child would carry `lower`
    /// of `total` and neither child more than two thirds.
    fn split_if_balanced(&self, at: u128, lower: f64, total: u64) -> Option<HashKey> {
        let at = at.clamp(self.shard.starting_hash_key + 1, self.shard.ending_hash_key);
        let larger = lower.max(total as f64 - lower);
        (larger <= total as f64 * 2.0 / 3.0).then_some(HashKey(at))
    }

    /// The heaviest keys by records (or by bytes), at most `n`.
    pub fn top(&self, n: usize, rank: Rank) -> Vec<KeyShare> {
        let summary = match rank {
            Rank::Records => &self.by_records,
            Rank::Bytes => &self.by_bytes,
        };
        summary
            .top(n)
            .into_iter()
            .map(|c| KeyShare::of(c, rank, self.records, self.bytes))
            .collect()
    }
}

/// One hot key of a shard, as `kwb hotkeys --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyShare {
    pub key: String,
    /// Records and bytes counted for the key: at most what it carried.
    pub records: u64,
    pub bytes: u64,
    /// Of the shard's user records, 0 to 1.
    pub share: f64,
    /// Of the shard's bytes, 0 to 1.
    pub bytes_share: f64,
    /// How many more records (ranked by bytes: bytes) the key may have carried than counted.
    pub error: u64,
}

impl KeyShare {
    /// The key with its shares of the records and bytes, as the advice weighs a shard's
    /// heaviest key.
    pub fn weight(&self) -> (&str, f64, f64) {
        (self.key.as_str(), self.share, self.bytes_share)
    }

    fn of(counter: Counter, rank: Rank, records: u64, bytes: u64) -> KeyShare {
        let share = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64
            }
        };
        let (counted_records, counted_bytes) = counter.counted();
        KeyShare {
            share: share(counted_records, records),
            bytes_share: share(counted_bytes, bytes),
            error: counter.error(rank),
            key: counter.key.into(),
            records: counted_records,
            bytes: counted_bytes,
        }
    }
}

/// The tallies of every shard of a stream over a window of time.
#[derive(Debug, Clone, Default)]
pub struct HotKeys {
    shards: BTreeMap<String, ShardTally>,
    first: Option<SystemTime>,
    last: Option<SystemTime>,
}

impl HotKeys {
    /// Tallies for these shards (the stream's, closed ones included).
    pub fn new(shards: impl IntoIterator<Item = ShardInfo>) -> HotKeys {
        HotKeys {
            shards: shards
                .into_iter()
                .map(|s| (s.shard_id.clone(), ShardTally::new(s)))
                .collect(),
            first: None,
            last: None,
        }
    }

    /// Counts a user record of `shard_id` (a shard not known yet, e.g. a child of a split while
    /// reading, is added with the whole hash range until `learn` says better).
    pub fn add(
        &mut self,
        shard_id: &str,
        key: &str,
        hash_key: HashKey,
        bytes: u64,
        new_kinesis_record: bool,
        at: Option<SystemTime>,
    ) {
        if !self.shards.contains_key(shard_id) {
            let whole = ShardInfo {
                shard_id: shard_id.to_string(),
                starting_hash_key: 0,
                ending_hash_key: u128::MAX,
                parent_shard_id: None,
                open: true,
            };
            self.shards
                .insert(shard_id.to_string(), ShardTally::new(whole));
        }
        if let Some(tally) = self.shards.get_mut(shard_id) {
            tally.add(key, hash_key, bytes, new_kinesis_record, at);
        }
        if let Some(at) = at {
            self.first = Some(self.first.map_or(at, |f| f.min(at)));
            self.last = Some(self.last.map_or(at, |l| l.max(at)));
        }
    }

    /// Counts a user record of `shard` (added with its range when not known yet).
    pub fn add_on(
        &mut self,
        shard: &ShardInfo,
        key: &str,
        hash_key: HashKey,
        bytes: u64,
        new_kinesis_record: bool,
        at: Option<SystemTime>,
    ) {
        if !self.shards.contains_key(&shard.shard_id) {
            let tally = ShardTally::new(shard.clone());
            self.shards.insert(shard.shard_id.clone(), tally);
        }
        self.add(
            &shard.shard_id,
            key,
            hash_key,
            bytes,
            new_kinesis_record,
            at,
        );
    }

    /// The tally of one shard.
    pub fn shard(&self, shard_id: &str) -> Option<&ShardTally> {
        self.shards.get(shard_id)
    }

    pub fn shards(&self) -> impl Iterator<Item = &ShardTally> {
        self.shards.values()
    }

    /// The one-second windows (of epoch seconds, as the busiest second is counted) from the
    /// first record's arrival to the last one's, both included; None without times.
    pub fn seconds(&self) -> Option<u64> {
        Some(epoch_second(self.last?) - epoch_second(self.first?) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(start: u128, end: u128) -> ShardInfo {
        ShardInfo {
            shard_id: "shardId-000000000000".into(),
            starting_hash_key: start,
            ending_hash_key: end,
            parent_shard_id: None,
            open: true,
        }
    }

    #[test]
    fn the_balancing_key_halves_the_traffic_not_the_range() {
        let mut tally = ShardTally::new(shard(0, u128::MAX));
        // Three quarters of the records in the first quarter of the range.
        let quarter = u128::MAX / 4;
        for i in 0..3000u128 {
            tally.add("k", HashKey(i * (quarter / 3000)), 10, true, None);
        }
        for i in 0..1000u128 {
            tally.add(
                "k",
                HashKey(quarter + i * (3 * quarter / 1000)),
                10,
                true,
                None,
            );
        }
        let at = tally.balancing_hash_key(false).unwrap().0;
        let expected = quarter / 3 * 2;
        let off = at.abs_diff(expected) as f64 / u128::MAX as f64;
        assert!(off < 0.01, "split at {at}, expected near {expected}");
    }

    #[test]
    fn a_heavy_key_is_split_off_at_its_own_hash_key_when_that_balances() {
        let range = (1000, 1000 + (1u128 << 40));
        let mut tally = ShardTally::new(shard(range.0, range.1));
        // One key with 40 % low in the range, one with 60 % in the same slice just above it.
        for _ in 0..40 {
            tally.add("a", HashKey(2000), 1, true, None);
        }
        for _ in 0..60 {
            tally.add("b", HashKey(3000), 1, true, None);
        }
        assert_eq!(tally.balancing_hash_key(false), Some(HashKey(3000)));
        // By bytes one large record carries nearly everything: no split balances it.
        tally.add("large", HashKey(1 << 39), 1_000_000, true, None);
        assert_eq!(tally.balancing_hash_key(true), None);
        assert_eq!(tally.balancing_hash_key(false), Some(HashKey(3000)));
    }

    #[test]
    fn one_key_that_carries_most_of_a_shard_leaves_no_split_and_unknown_places_neither() {
        let mut tally = ShardTally::new(shard(0, u128::MAX));
        for i in 0..100u128 {
            tally.add(&format!("k{i}"), HashKey(i << 100), 1, true, None);
        }
        for _ in 0..300 {
            tally.add("hot", HashKey(5 << 120), 1, true, None);
        }
        assert_eq!(tally.balancing_hash_key(false), None);
        // Records routed by explicit hash keys Kinesis did not return: their places are unknown.
        let mut ehk = ShardTally::new(shard(0, 1 << 100));
        for i in 0..100u128 {
            ehk.add(&format!("k{i}"), HashKey(u128::MAX - i), 1, true, None);
        }
        assert_eq!(ehk.balancing_hash_key(false), None);
    }

    #[test]
    fn a_key_seen_with_several_hash_keys_counts_as_spread() {
        let mut tally = ShardTally::new(shard(0, u128::MAX));
        for i in 0..1000u128 {
            tally.add("ehk", HashKey(i * (u128::MAX / 1000)), 1, true, None);
        }
        let at = tally.balancing_hash_key(false).unwrap().0;
        let off = at.abs_diff(u128::MAX / 2) as f64 / u128::MAX as f64;
        assert!(off < 0.01, "{off}");
    }

    #[test]
    fn a_shard_of_one_hash_key_cannot_be_split_and_an_empty_one_has_no_key() {
        let mut narrow = ShardTally::new(shard(7, 7));
        narrow.add("k", HashKey(7), 1, true, None);
        assert_eq!(narrow.balancing_hash_key(false), None);
        assert_eq!(
            ShardTally::new(shard(0, 100)).balancing_hash_key(false),
            None
        );
        let mut two = ShardTally::new(shard(0, 1));
        two.add("a", HashKey(0), 1, true, None);
        two.add("b", HashKey(1), 1, true, None);
        assert_eq!(two.balancing_hash_key(false), Some(HashKey(1)));
    }

    #[test]
    fn shares_are_of_the_shard_and_records_of_unknown_shards_are_kept() {
        let mut keys = HotKeys::new([shard(0, u128::MAX)]);
        let t0 = SystemTime::UNIX_EPOCH;
        for i in 0..10u64 {
            let key = if i < 7 { "hot" } else { "cold" };
            let at = t0 + std::time::Duration::from_secs(i);
            keys.add("shardId-000000000000", key, HashKey(1), 100, true, Some(at));
        }
        keys.add("shardId-000000000009", "child", HashKey(5), 10, true, None);
        let tallies: Vec<_> = keys.shards().collect();
        assert_eq!(tallies.len(), 2);
        let top = tallies[0].top(5, Rank::Records);
        assert_eq!(
            (top[0].key.as_str(), top[0].records, top[0].share),
            ("hot", 7, 0.7)
        );
        assert_eq!(top[0].bytes_share, 0.7);
        assert_eq!(tallies[1].records, 1);
        assert_eq!(tallies[1].busiest(), None, "no time, no busiest second");
        // Records at 0 s to 9 s: ten one-second windows.
        assert_eq!(keys.seconds(), Some(10));
    }

    #[test]
    fn zipf_top_ten_are_within_a_point_of_exact_counts_in_bounded_memory() {
        use rand::SeedableRng;
        use rand_distr::Distribution;
        let zipf = rand_distr::Zipf::new(100_000, 1.1).unwrap();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
        let mut tally = ShardTally::new(shard(0, u128::MAX));
        let mut exact: std::collections::HashMap<String, u64> = Default::default();
        const N: u64 = 1_000_000;
        for _ in 0..N {
            let key = format!("key-{}", zipf.sample(&mut rng) as u64);
            tally.add(&key, HashKey::of_partition_key(&key), 10, true, None);
            *exact.entry(key).or_default() += 1;
        }
        assert!(exact.len() > 30_000, "{} distinct keys", exact.len());
        let mut truth: Vec<(&String, &u64)> = exact.iter().collect();
        truth.sort_by(|a, b| b.1.cmp(a.1));
        let top = tally.top(10, Rank::Records);
        for (estimate, (key, count)) in top.iter().zip(&truth) {
            assert_eq!(&estimate.key, *key);
            let real = **count as f64 / N as f64;
            assert!(
                (estimate.share - real).abs() < 0.01,
                "{key}: {} vs {real}",
                estimate.share
            );
        }
        assert_eq!(tally.by_records.top(usize::MAX).len(), COUNTERS);
        assert_eq!(tally.by_bytes.top(usize::MAX).len(), COUNTERS);
    }

    #[test]
    fn the_busiest_second_is_counted_by_arrival_and_each_limit_on_its_own() {
        let mut tally = ShardTally::new(shard(0, u128::MAX));
        let at = |ms: u64| Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms));
        // Second 0: 3 Kinesis records of 10 bytes; second 1: one aggregate of 5 records, 500
        // bytes; second 2: 2 records.
        for ms in [0, 300, 999] {
            tally.add("k", HashKey(1), 10, true, at(ms));
        }
        for i in 0..5 {
            tally.add("k", HashKey(1), 100, i == 0, at(1500));
        }
        tally.add("k", HashKey(1), 1, true, at(2000));
        tally.add("k", HashKey(1), 1, true, at(2999));
        let busiest = tally.busiest().unwrap();
        assert_eq!((busiest.kinesis_records, busiest.bytes), (3, 500));
    }
}
