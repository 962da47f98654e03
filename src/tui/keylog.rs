//! What the sending task sent lately, for the views: where the last keys landed on the
//! hash-key space, the busiest keys of each shard in the last few seconds, and the record it
//! sends next.
//!
//! The sending task writes; the UI reads once per tick. Counting is bounded whatever the number
//! of keys: each shard's keys go into space-saving summaries (`hot_keys`), one set per 5-second
//! generation, the current one and the one before.

use crate::hot_keys::space_saving::Rank;
use crate::hot_keys::{HotKeys, KeyShare};
use crate::kinesis::hash_key::HashKey;
use crate::kinesis::shard_map::ShardInfo;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How many of the last hash keys are kept (ticks on the shard strip).
pub const RECENT: usize = 32;
/// Key counts cover the current generation and the one before.
const GENERATION: Duration = Duration::from_secs(5);

/// The record the sending task sends next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub partition_key: String,
    /// The data as text (lossy for binary data).
    pub text: String,
    /// Billed size: partition key + data.
    pub bytes: usize,
}

/// What the views read from the log once per tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SentView {
    /// Hash keys of the last records sent, oldest first.
    pub recent: Vec<u128>,
    /// The busiest keys of the selected shard in the last 5 to 10 seconds, busiest first, with
    /// their shares of what was sent to it.
    pub top_keys: Vec<KeyShare>,
    /// Where a split would divide what was sent to the selected shard most evenly, by records
    /// and by bytes (see `ShardTally::balancing_hash_key`).
    pub split_at: (Option<HashKey>, Option<HashKey>),
    pub next: Option<Preview>,
}

impl SentView {
    /// Where a split would divide the selected shard's traffic most evenly by the limit that
    /// binds: its bytes, or its records.
    pub fn split_at(&self, bytes_bind: bool) -> Option<HashKey> {
        let (by_records, by_bytes) = self.split_at;
        if bytes_bind {
            by_bytes
        } else {
            by_records
        }
    }
}

#[derive(Debug)]
pub struct KeyLog {
    recent: VecDeque<u128>,
    /// Per shard, the keys sent in the current generation, then the one before.
    tallies: [HotKeys; 2],
    generation_start: Instant,
    next: Option<Preview>,
}

impl KeyLog {
    pub fn new(now: Instant) -> KeyLog {
        KeyLog {
            recent: VecDeque::with_capacity(RECENT),
            tallies: Default::default(),
            generation_start: now,
            next: None,
        }
    }

    /// Notes one record of `bytes` sent with `key`, routed by `hash_key` to `shard` (as the map
    /// predicts; None when no open shard owns it).
    pub fn sent(
        &mut self,
        key: &str,
        hash_key: HashKey,
        shard: Option<&ShardInfo>,
        bytes: u64,
        now: Instant,
    ) {
        if now.saturating_duration_since(self.generation_start) >= GENERATION {
            self.tallies.swap(0, 1);
            self.tallies[0] = HotKeys::default();
            self.generation_start = now;
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(hash_key.0);
        if let Some(shard) = shard {
            self.tallies[0].add_on(shard, key, hash_key, bytes, true, None);
        }
    }

    pub fn set_next(&mut self, next: Option<Preview>) {
        self.next = next;
    }

    /// The view for the shard `shard_id` (the selected one), with its `top` busiest keys.
    pub fn view(&self, shard_id: Option<&str>, top: usize) -> SentView {
        let tallies: Vec<_> = self
            .tallies
            .iter()
            .filter_map(|t| t.shard(shard_id?))
            .collect();
        let records: u64 = tallies.iter().map(|t| t.records).sum();
        let bytes: u64 = tallies.iter().map(|t| t.bytes).sum();
        let mut keys: HashMap<String, (u64, u64)> = HashMap::new();
        for tally in &tallies {
            for key in tally.top(usize::MAX, Rank::Records) {
                let entry = keys.entry(key.key).or_default();
                entry.0 += key.records;
                entry.1 += key.bytes;
            }
        }
        let share = |part: u64, whole: u64| part as f64 / whole.max(1) as f64;
        let mut top_keys: Vec<KeyShare> = keys
            .into_iter()
            .map(|(key, (r, b))| KeyShare {
                key,
                records: r,
                bytes: b,
                share: share(r, records),
                bytes_share: share(b, bytes),
                error: 0,
            })
            .collect();
        top_keys.sort_by(|a, b| b.records.cmp(&a.records).then_with(|| a.key.cmp(&b.key)));
        top_keys.truncate(top);
        // The current generation once it has something to go by, else the one before.
        let busiest = tallies.iter().max_by_key(|t| t.records);
        SentView {
            recent: self.recent.iter().copied().collect(),
            top_keys,
            split_at: busiest.map_or((None, None), |t| {
                (t.balancing_hash_key(false), t.balancing_hash_key(true))
            }),
            next: self.next.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinesis::shard_map::ShardMap;

    #[test]
    fn keeps_the_last_keys_and_ranks_a_shards_keys_by_count() {
        let t0 = Instant::now();
        let map = ShardMap::even_split(2);
        let mut log = KeyLog::new(t0);
        for i in 0..100u128 {
            let key = format!("k{}", i % 4);
            let hash = HashKey::of_partition_key(&key);
            log.sent(&key, hash, map.shard_for(hash), 10, t0);
        }
        let view = log.view(Some(&map.shards()[0].shard_id), 2);
        assert_eq!(view.recent.len(), RECENT);
        let mine: Vec<String> = (0..4)
            .map(|i| format!("k{i}"))
            .filter(|k| {
                map.shard_for(HashKey::of_partition_key(k))
                    .unwrap()
                    .shard_id
                    == map.shards()[0].shard_id
            })
            .collect();
        assert_eq!(view.top_keys.len(), mine.len().min(2));
        for key in &view.top_keys {
            assert!(mine.contains(&key.key));
            assert_eq!(key.records, 25);
            assert!((key.share - 1.0 / mine.len() as f64).abs() < 1e-9);
        }
        assert!(log.view(None, 2).top_keys.is_empty());
    }

    #[test]
    fn counts_forget_keys_two_generations_old() {
        let t0 = Instant::now();
        let map = ShardMap::even_split(1);
        let shard = &map.shards()[0];
        let mut log = KeyLog::new(t0);
        log.sent("old", HashKey(1), Some(shard), 1, t0);
        log.sent("newer", HashKey(1), Some(shard), 1, t0 + GENERATION);
        let keys = |log: &KeyLog| -> Vec<String> {
            log.view(Some(&shard.shard_id), 5)
                .top_keys
                .into_iter()
                .map(|k| k.key)
                .collect()
        };
        assert_eq!(keys(&log), vec!["newer", "old"]);
        log.sent("newest", HashKey(1), Some(shard), 1, t0 + GENERATION * 2);
        assert_eq!(keys(&log), vec!["newer", "newest"]);
    }
}
