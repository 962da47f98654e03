//! What the sending task sent lately, for the views: where the last keys landed on the
//! hash-key space, the busiest keys of the last few seconds, and the record it sends next.
//!
//! The sending task writes; the UI reads once per tick. Counting is bounded: at most
//! `MAX_KEYS` distinct keys per generation (the hot keys are counted first and keep counting).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How many of the last hash keys are kept (ticks on the shard strip).
pub const RECENT: usize = 32;
/// Key counts cover the current generation and the one before.
const GENERATION: Duration = Duration::from_secs(5);
const MAX_KEYS: usize = 20_000;

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
    /// The busiest keys of the selected shard in the last 5 to 10 seconds, busiest first.
    pub top_keys: Vec<(String, u64)>,
    pub next: Option<Preview>,
}

#[derive(Debug)]
pub struct KeyLog {
    recent: VecDeque<u128>,
    /// Key -> (its hash key, records), current generation first.
    counts: [HashMap<String, (u128, u64)>; 2],
    generation_start: Instant,
    next: Option<Preview>,
}

impl KeyLog {
    pub fn new(now: Instant) -> KeyLog {
        KeyLog {
            recent: VecDeque::with_capacity(RECENT),
            counts: Default::default(),
            generation_start: now,
            next: None,
        }
    }

    /// Notes one record sent with `key`, routed by `hash_key`.
    pub fn sent(&mut self, key: &str, hash_key: u128, now: Instant) {
        if now.saturating_duration_since(self.generation_start) >= GENERATION {
            self.counts.swap(0, 1);
            self.counts[0].clear();
            self.generation_start = now;
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(hash_key);
        let counts = &mut self.counts[0];
        if let Some(entry) = counts.get_mut(key) {
            entry.1 += 1;
        } else if counts.len() < MAX_KEYS {
            counts.insert(key.to_string(), (hash_key, 1));
        }
    }

    pub fn set_next(&mut self, next: Option<Preview>) {
        self.next = next;
    }

    /// The view for a shard owning hash keys `range` (inclusive).
    pub fn view(&self, range: Option<(u128, u128)>, top: usize) -> SentView {
        let mut top_keys: HashMap<&str, u64> = HashMap::new();
        if let Some((start, end)) = range {
            for generation in &self.counts {
                for (key, (hash, n)) in generation {
                    if (start..=end).contains(hash) {
                        *top_keys.entry(key).or_default() += n;
                    }
                }
            }
        }
        let mut top_keys: Vec<(String, u64)> = top_keys
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        top_keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top_keys.truncate(top);
        SentView {
            recent: self.recent.iter().copied().collect(),
            top_keys,
            next: self.next.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_keys_and_ranks_a_shards_keys_by_count() {
        let t0 = Instant::now();
        let mut log = KeyLog::new(t0);
        for i in 0..100u128 {
            log.sent(&format!("k{}", i % 4), i % 4 * 10, t0);
        }
        log.sent("hot", 5, t0);
        let view = log.view(Some((0, 10)), 2);
        assert_eq!(view.recent.len(), RECENT);
        assert_eq!(view.recent.last(), Some(&5));
        assert_eq!(
            view.top_keys,
            vec![("k0".to_string(), 25), ("k1".to_string(), 25)]
        );
        assert!(log.view(None, 2).top_keys.is_empty());
    }

    #[test]
    fn counts_forget_keys_two_generations_old() {
        let t0 = Instant::now();
        let mut log = KeyLog::new(t0);
        log.sent("old", 1, t0);
        log.sent("newer", 1, t0 + GENERATION);
        let keys = |log: &KeyLog| -> Vec<String> {
            log.view(Some((0, 1)), 5)
                .top_keys
                .into_iter()
                .map(|k| k.0)
                .collect()
        };
        assert_eq!(keys(&log), vec!["newer", "old"]);
        log.sent("newest", 1, t0 + GENERATION * 2);
        assert_eq!(keys(&log), vec!["newer", "newest"]);
    }
}
