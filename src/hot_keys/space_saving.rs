//! The space-saving heavy-hitters summary (Metwally, Agrawal and El Abbadi, 2005): the heaviest
//! keys of a stream in a fixed number of counters, however many distinct keys go by.
//!
//! A key that is not monitored takes the lightest counter over and inherits its weight; so each
//! counter's weight is never below the key's true weight and exceeds it by at most what it
//! inherited, which is at most total / capacity: a summary of 1,024 counters places every key's
//! share within 0.1 point. What a counter counted itself is a lower bound, and what the summary
//! reports and ranks by: a key counted since it was monitored, not the counts it inherited. The
//! counters are a binary min-heap (the lightest at the root) with an index from key to slot, so
//! an update is a hash lookup and a sift of O(log capacity).

use rustc_hash::FxHashMap;

/// What a summary ranks keys by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rank {
    Records,
    Bytes,
}

/// One monitored key: where it routes, its records and bytes as counted, with what it inherited
/// when it took its counter over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub key: Box<str>,
    /// Its hash key; None once it came with more than one (explicit hash keys).
    pub hash_key: Option<u128>,
    records: u64,
    bytes: u64,
    inherited_records: u64,
    inherited_bytes: u64,
}

impl Counter {
    /// Records and bytes counted since the key was monitored: at most its true counts.
    pub fn counted(&self) -> (u64, u64) {
        (
            self.records - self.inherited_records,
            self.bytes - self.inherited_bytes,
        )
    }

    /// How much more than counted the key may have carried, in the summary's rank (records or
    /// bytes).
    pub fn error(&self, rank: Rank) -> u64 {
        match rank {
            Rank::Records => self.inherited_records,
            Rank::Bytes => self.inherited_bytes,
        }
    }
}

/// A space-saving summary of at most `capacity` keys.
#[derive(Debug, Clone)]
pub struct SpaceSaving {
    rank: Rank,
    capacity: usize,
    heap: Vec<Counter>,
    slot_of: FxHashMap<Box<str>, usize>,
}

impl SpaceSaving {
    /// A summary of `capacity` counters (at least one).
    pub fn new(rank: Rank, capacity: usize) -> SpaceSaving {
        let capacity = capacity.max(1);
        SpaceSaving {
            rank,
            capacity,
            heap: Vec::with_capacity(capacity),
            slot_of: FxHashMap::default(),
        }
    }

    fn weight(&self, counter: &Counter) -> u64 {
        match self.rank {
            Rank::Records => counter.records,
            Rank::Bytes => counter.bytes,
        }
    }

    /// Counts `records` records of `bytes` bytes in all under `key`, routed by `hash_key`.
    pub fn add(&mut self, key: &str, hash_key: u128, records: u64, bytes: u64) {
        if let Some(&slot) = self.slot_of.get(key) {
            let counter = &mut self.heap[slot];
            counter.hash_key = counter.hash_key.filter(|&h| h == hash_key);
            counter.records += records;
            counter.bytes += bytes;
            self.sift_down(slot);
        } else if self.heap.len() < self.capacity {
            let key: Box<str> = key.into();
            self.slot_of.insert(key.clone(), self.heap.len());
            self.heap.push(Counter {
                key,
                hash_key: Some(hash_key),
                records,
                bytes,
                inherited_records: 0,
                inherited_bytes: 0,
            });
            self.sift_up(self.heap.len() - 1);
        } else {
            let lightest = &mut self.heap[0];
            self.slot_of.remove(&lightest.key);
            let key: Box<str> = key.into();
            self.slot_of.insert(key.clone(), 0);
            *lightest = Counter {
                key,
                hash_key: Some(hash_key),
                records: lightest.records + records,
                bytes: lightest.bytes + bytes,
                inherited_records: lightest.records,
                inherited_bytes: lightest.bytes,
            };
            self.sift_down(0);
        }
    }

    /// Every monitored key, in no order.
    pub fn counters(&self) -> &[Counter] {
        &self.heap
    }

    /// The monitored keys that counted anything themselves, heaviest by what they counted first
    /// (then by estimate, then by key), at most `n` of them.
    pub fn top(&self, n: usize) -> Vec<Counter> {
        let counted = |c: &Counter| self.weight(c) - c.error(self.rank);
        let mut counters: Vec<Counter> = self
            .heap
            .iter()
            .filter(|c| counted(c) > 0)
            .cloned()
            .collect();
        counters.sort_by(|a, b| {
            counted(b)
                .cmp(&counted(a))
                .then_with(|| self.weight(b).cmp(&self.weight(a)))
                .then_with(|| a.key.cmp(&b.key))
        });
        counters.truncate(n);
        counters
    }

    fn sift_up(&mut self, mut slot: usize) {
        while slot > 0 {
            let parent = (slot - 1) / 2;
            if self.weight(&self.heap[parent]) <= self.weight(&self.heap[slot]) {
                break;
            }
            self.swap(slot, parent);
            slot = parent;
        }
    }

    fn sift_down(&mut self, mut slot: usize) {
        loop {
            let (left, right) = (2 * slot + 1, 2 * slot + 2);
            let mut lightest = slot;
            for child in [left, right] {
                if child < self.heap.len()
                    && self.weight(&self.heap[child]) < self.weight(&self.heap[lightest])
                {
                    lightest = child;
                }
            }
            if lightest == slot {
                return;
            }
            self.swap(slot, lightest);
            slot = lightest;
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        for slot in [a, b] {
            if let Some(s) = self.slot_of.get_mut(&self.heap[slot].key) {
                *s = slot;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn exact(keys: &[(String, u64)]) -> HashMap<String, (u64, u64)> {
        let mut counts: HashMap<String, (u64, u64)> = HashMap::new();
        for (key, bytes) in keys {
            let entry = counts.entry(key.clone()).or_default();
            entry.0 += 1;
            entry.1 += bytes;
        }
        counts
    }

    #[test]
    fn below_capacity_every_key_is_exact() {
        let mut summary = SpaceSaving::new(Rank::Records, 8);
        for (key, n) in [("a", 5), ("b", 3), ("c", 9)] {
            for _ in 0..n {
                summary.add(key, 0, 1, 10);
            }
        }
        let top = summary.top(2);
        assert_eq!(top.len(), 2);
        let seen = |c: &Counter| (c.key.to_string(), c.counted(), c.error(Rank::Records));
        assert_eq!(seen(&top[0]), ("c".into(), (9, 90), 0));
        assert_eq!(seen(&top[1]), ("a".into(), (5, 50), 0));
    }

    #[test]
    fn a_new_key_takes_the_lightest_counter_over() {
        let mut summary = SpaceSaving::new(Rank::Records, 2);
        summary.add("a", 0, 3, 3);
        summary.add("b", 0, 1, 1);
        summary.add("c", 0, 1, 1);
        let top = summary.top(3);
        assert_eq!(top.len(), 2, "never more counters than its capacity");
        assert_eq!((&*top[0].key, top[0].counted()), ("a", (3, 3)));
        // c took b's counter over: it counted one record, and may have had one more.
        assert_eq!(
            (&*top[1].key, top[1].counted(), top[1].error(Rank::Records)),
            ("c", (1, 1), 1)
        );
    }

    #[test]
    fn ranked_by_bytes_a_few_large_records_outweigh_many_small_ones() {
        let mut summary = SpaceSaving::new(Rank::Bytes, 4);
        for _ in 0..100 {
            summary.add("small", 0, 1, 10);
        }
        summary.add("large", 0, 2, 5_000);
        let top = summary.top(1);
        assert_eq!(
            (&*top[0].key, top[0].records, top[0].bytes),
            ("large", 2, 5_000)
        );
    }

    proptest! {
        /// The space-saving guarantees: what a key counted is at most the truth and the truth at
        /// most that plus its error; errors are at most total / capacity; every key heavier than
        /// total / capacity is monitored.
        #[test]
        fn estimates_bound_the_truth(
            stream in prop::collection::vec((0u8..40, 1u64..100), 0..600),
            capacity in 1usize..16,
            by_bytes in any::<bool>(),
        ) {
            let rank = if by_bytes { Rank::Bytes } else { Rank::Records };
            let keys: Vec<(String, u64)> =
                stream.iter().map(|(k, b)| (format!("k{k}"), *b)).collect();
            let mut summary = SpaceSaving::new(rank, capacity);
            for (key, bytes) in &keys {
                summary.add(key, 0, 1, *bytes);
            }
            let truth = exact(&keys);
            let weight = |c: (u64, u64)| if by_bytes { c.1 } else { c.0 };
            let total: u64 = truth.values().map(|&c| weight(c)).sum();
            let top = summary.heap.clone();
            prop_assert!(top.len() <= capacity);
            for counter in &top {
                let real = weight(truth[&*counter.key]);
                let counted = weight(counter.counted());
                let error = counter.error(rank);
                prop_assert!(counted <= real && real <= counted + error);
                prop_assert!(error * capacity as u64 <= total);
            }
            prop_assert!(summary.top(usize::MAX).iter().all(|c| weight(c.counted()) > 0));
            for (key, &counts) in &truth {
                if weight(counts) * capacity as u64 > total {
                    prop_assert!(top.iter().any(|c| &*c.key == key), "{key} is heavy and lost");
                }
            }
        }
    }
}
