//! Counters in 1-second buckets over a fixed window: the shape of every live metric in kwb (the
//! producer's per shard, the embedded server's per shard).
//!
//! Values are atomics, so a view reads while the owner writes. Each bucket is tagged with its
//! second: a slot coming round again is reset before reuse, and a slot holding another second
//! reads as zero.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug)]
struct Slot<const K: usize> {
    /// The second held, plus one (so a fresh slot is never mistaken for second 0).
    tag: AtomicU64,
    values: [AtomicU64; K],
}

/// `K` counters per second for the last `seconds` seconds.
#[derive(Debug)]
pub struct Ring<const K: usize> {
    slots: Box<[Slot<K>]>,
}

impl<const K: usize> Ring<K> {
    pub fn new(seconds: usize) -> Ring<K> {
        Ring {
            slots: (0..seconds.max(1))
                .map(|_| Slot {
                    tag: AtomicU64::new(0),
                    values: std::array::from_fn(|_| AtomicU64::new(0)),
                })
                .collect(),
        }
    }

    fn slot(&self, second: u64) -> &Slot<K> {
        &self.slots[second as usize % self.slots.len()]
    }

    /// Adds `n` to counter `i` of `second`.
    pub fn add(&self, second: u64, i: usize, n: u64) {
        let slot = self.slot(second);
        let tag = second + 1;
        if slot.tag.load(Relaxed) != tag {
            for v in &slot.values {
                v.store(0, Relaxed);
            }
            slot.tag.store(tag, Relaxed);
        }
        slot.values[i].fetch_add(n, Relaxed);
    }

    /// Sets value `i` of `second`, if that second still has its slot and anything was counted
    /// in it (for values that are not sums, such as a second's latency quantiles).
    pub fn set_if_counted(&self, second: u64, i: usize, value: u64) {
        let slot = self.slot(second);
        if slot.tag.load(Relaxed) == second + 1 {
            slot.values[i].store(value, Relaxed);
        }
    }

    /// Counter `i` for each of the `history` seconds up to `now` (oldest first, `now` last);
    /// seconds before the start or out of the window read as zero.
    pub fn series(&self, now: u64, history: usize, i: usize) -> Vec<u64> {
        let history = history.min(self.slots.len()) as u64;
        (0..history)
            .map(|back| {
                let Some(second) = now.checked_sub(history - 1 - back) else {
                    return 0;
                };
                let slot = self.slot(second);
                if slot.tag.load(Relaxed) == second + 1 {
                    slot.values[i].load(Relaxed)
                } else {
                    0
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_second_and_old_slots_are_reset() {
        let ring: Ring<2> = Ring::new(4);
        ring.add(0, 0, 7);
        ring.add(1, 1, 2);
        ring.add(1, 1, 3);
        assert_eq!(ring.series(1, 3, 0), vec![0, 7, 0]);
        assert_eq!(ring.series(1, 3, 1), vec![0, 0, 5]);
        // Second 4 takes second 0's slot: second 0 now reads as zero.
        ring.add(4, 0, 1);
        assert_eq!(ring.series(4, 4, 0), vec![0, 0, 0, 1]);
        assert_eq!(ring.series(4, 10, 0).len(), 4, "at most the window");
    }

    #[test]
    fn values_are_set_only_in_a_second_that_counted() {
        let ring: Ring<2> = Ring::new(4);
        ring.set_if_counted(0, 1, 9);
        assert_eq!(ring.series(0, 1, 1), vec![0]);
        ring.add(0, 0, 1);
        ring.set_if_counted(0, 1, 9);
        assert_eq!(ring.series(0, 1, 1), vec![9]);
    }
}
