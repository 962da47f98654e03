//! How much may wait for each shard: a few seconds of what the shard can take.
//!
//! Every accepted record holds a [`ShardSlot`] on the shard the map predicts for it until it
//! resolves. A shard's backlog is capped at [`BACKLOG_SECONDS`] of its write limit (as the
//! producer's `rate_limit_percent` allows it, up to the limit itself), so a throttled or hot shard slows whoever is
//! putting instead of piling records up: their latency stays bounded and a run ends soon after
//! its sender stops. Records are counted in bytes; without aggregation each record counts for at
//! least a thousandth of the byte limit, since the shard then takes at most 1,000 a second.

use crate::producer::config::{SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Seconds of a shard's write limit that may wait for it.
pub const BACKLOG_SECONDS: f64 = 2.0;

/// One shard's backlog, in cost units (bytes).
#[derive(Debug, Default)]
struct Lane {
    held: AtomicU64,
    /// Puts waiting for room: a release wakes them only when there are any.
    waiting: AtomicUsize,
    freed: Notify,
}

impl Lane {
    /// Takes `cost` if it fits under `cap`, or if nothing waits (a record larger than the cap
    /// still goes, alone).
    fn try_take(&self, cost: u64, cap: u64) -> bool {
        self.held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                (held == 0 || held + cost <= cap).then_some(held + cost)
            })
            .is_ok()
    }
}

/// A record's place in its shard's backlog, given back when the record resolves (on drop).
#[derive(Debug)]
pub struct ShardSlot {
    lane: Arc<Lane>,
    cost: u64,
}

impl Drop for ShardSlot {
    fn drop(&mut self) {
        self.lane.held.fetch_sub(self.cost, Ordering::SeqCst);
        // A waiter counts itself before it checks for room, so either it sees this release or
        // this sees it waiting.
        if self.lane.waiting.load(Ordering::SeqCst) > 0 {
            self.lane.freed.notify_waiters();
        }
    }
}

/// A shard by its hash-key range (starting and ending keys): which shard a range names does not
/// matter, only that the records waiting for it are counted together.
pub type ShardRange = (u128, u128);

/// Every shard's backlog, and the settings its cap follows.
#[derive(Debug)]
pub struct Backlogs {
    lanes: Mutex<FxHashMap<ShardRange, Arc<Lane>>>,
    aggregation: AtomicBool,
    /// `rate_limit_percent`, as f64 bits.
    rate_limit_percent: AtomicU64,
}

impl Backlogs {
    pub fn new(aggregation: bool, rate_limit_percent: f64) -> Backlogs {
        Backlogs {
            lanes: Mutex::default(),
            aggregation: AtomicBool::new(aggregation),
            rate_limit_percent: AtomicU64::new(rate_limit_percent.to_bits()),
        }
    }

    /// Follows the producer's settings as they change.
    pub fn tune(&self, aggregation: bool, rate_limit_percent: f64) {
        self.aggregation.store(aggregation, Ordering::Release);
        self.rate_limit_percent
            .store(rate_limit_percent.to_bits(), Ordering::Release);
    }

    /// The most cost that may wait for one shard. Above 100 % the shard still takes only its
    /// limit when it enforces it, so the backlog never outgrows two seconds of the limit itself.
    pub fn cap(&self) -> u64 {
        let share = f64::from_bits(self.rate_limit_percent.load(Ordering::Acquire)) / 100.0;
        let share = share.min(1.0);
        (BACKLOG_SECONDS * SHARD_BYTES_PER_SEC * share).max(1.0) as u64
    }

    /// What a record of `bytes` (key + data) counts for.
    fn cost(&self, bytes: usize) -> u64 {
        let bytes = bytes.max(1) as u64;
        if self.aggregation.load(Ordering::Acquire) {
            bytes
        } else {
            bytes.max((SHARD_BYTES_PER_SEC / SHARD_RECORDS_PER_SEC).ceil() as u64)
        }
    }

    fn lane(&self, shard: ShardRange) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().expect("backlog lanes");
        if let Some(lane) = lanes.get(&shard) {
            return lane.clone();
        }
        // A new shard (the stream was resharded): forget the idle lanes of shards gone by.
        lanes.retain(|_, lane| lane.held.load(Ordering::Acquire) > 0);
        lanes.entry(shard).or_default().clone()
    }

    /// A slot for a record of `bytes` on `shard`, if its backlog has room now.
    pub fn try_slot(&self, shard: ShardRange, bytes: usize) -> Option<ShardSlot> {
        let lane = self.lane(shard);
        let cost = self.cost(bytes);
        // Built only when taken: a slot given back that was never taken would free room.
        lane.try_take(cost, self.cap())
            .then(|| ShardSlot { lane, cost })
    }

    /// A slot for a record of `bytes` on `shard`, waiting until its backlog has room.
    pub async fn slot(&self, shard: ShardRange, bytes: usize) -> ShardSlot {
        let lane = self.lane(shard);
        let cost = self.cost(bytes);
        if lane.try_take(cost, self.cap()) {
            return ShardSlot { lane, cost };
        }
        lane.waiting.fetch_add(1, Ordering::SeqCst);
        let waiting = Waiting(&lane);
        loop {
            let freed = lane.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a release between the two is not missed.
            freed.as_mut().enable();
            if lane.try_take(cost, self.cap()) {
                break;
            }
            freed.await;
        }
        drop(waiting);
        ShardSlot { lane, cost }
    }
}

/// A put counted as waiting on a lane, until it stops waiting (or is cancelled).
struct Waiting<'a>(&'a Lane);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const A: ShardRange = (0, u128::MAX / 2);
    const B: ShardRange = (u128::MAX / 2 + 1, u128::MAX);

    #[test]
    fn a_shard_takes_two_seconds_of_its_limit_and_no_more() {
        let backlogs = Backlogs::new(true, 100.0);
        let cap = backlogs.cap();
        assert_eq!(cap, 2 * 1024 * 1024);
        let held: Vec<_> = (0..2048)
            .map(|_| backlogs.try_slot(A, 1024).expect("room"))
            .collect();
        assert!(backlogs.try_slot(A, 1).is_none());
        // Another shard has its own backlog.
        assert!(backlogs.try_slot(B, 1024).is_some());
        drop(held);
        assert!(backlogs.try_slot(A, 1024).is_some());
    }

    #[test]
    fn without_aggregation_a_record_counts_for_a_thousandth_of_a_second_at_least() {
        let backlogs = Backlogs::new(false, 100.0);
        let held: Vec<_> = std::iter::from_fn(|| backlogs.try_slot(A, 10))
            .take(10_000)
            .collect();
        // 1,000 records a second for two seconds (each counts 1,049 bytes of 2 MiB).
        assert_eq!(held.len(), 1999);
    }

    #[test]
    fn the_cap_follows_the_rate_limit_and_a_large_record_goes_alone() {
        let backlogs = Backlogs::new(true, 100.0);
        backlogs.tune(true, 1000.0);
        assert_eq!(backlogs.cap(), 2 * 1024 * 1024);
        backlogs.tune(true, 10.0);
        assert_eq!(backlogs.cap(), 209_715);
        let big = backlogs.try_slot(A, 1024 * 1024).expect("alone, it goes");
        assert!(backlogs.try_slot(A, 1).is_none());
        drop(big);
        assert!(backlogs.try_slot(A, 1).is_some());
    }

    #[tokio::test]
    async fn a_waiting_record_goes_when_its_shard_frees_room() {
        let backlogs = Arc::new(Backlogs::new(false, 0.1));
        let first = backlogs.try_slot(A, 10).expect("room");
        let waiter = tokio::spawn({
            let backlogs = backlogs.clone();
            async move { backlogs.slot(A, 10).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("released")
            .expect("task");
    }
}
