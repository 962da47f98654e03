//! Per-shard rate limiting: token buckets for records/s and bytes/s that back off on throttling.
//!
//! Each shard gets buckets filled at a share of its write limits (1,000 records/s, 1 MiB/s). A
//! throttle reported for the shard cuts its rate multiplicatively; after a quiet second the rate
//! climbs back gradually. (The KPL's limiter never reacts to throttling.) Buckets start empty and
//! hold at most a tenth of a second, so a burst never overruns the service's one-second window.

use crate::producer::config::{SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};
use std::time::{Duration, Instant};

const BURST: f64 = 0.1;
const THROTTLE_CUT: f64 = 0.9;
const MIN_FACTOR: f64 = 0.1;
const RECOVERY_PER_SEC: f64 = 0.1;
const QUIET_BEFORE_RECOVERY: Duration = Duration::from_secs(1);
/// Throttles reported within this span count as one event.
const THROTTLE_DEBOUNCE: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct ShardLimiter {
    records: f64,
    bytes: f64,
    /// Share of the shard limit allowed before any throttling, e.g. 1.0 for 100 %.
    share: f64,
    /// Adaptive cut applied on throttling, in (0, 1].
    factor: f64,
    last_refill: Instant,
    last_throttle: Option<Instant>,
}

impl ShardLimiter {
    pub fn new(rate_limit_percent: f64, now: Instant) -> ShardLimiter {
        ShardLimiter {
            records: 0.0,
            bytes: 0.0,
            share: rate_limit_percent / 100.0,
            factor: 1.0,
            last_refill: now,
            last_throttle: None,
        }
    }

    pub fn set_rate_limit_percent(&mut self, rate_limit_percent: f64) {
        self.share = rate_limit_percent / 100.0;
    }

    /// The current allowed rate as a fraction of the shard's limits.
    pub fn current_share(&self) -> f64 {
        self.share * self.factor
    }

    fn refill(&mut self, now: Instant) {
        let dt = now
            .saturating_duration_since(self.last_refill)
            .as_secs_f64();
        self.last_refill = now;
        let quiet = self
            .last_throttle
            .is_none_or(|t| now.saturating_duration_since(t) >= QUIET_BEFORE_RECOVERY);
        if quiet {
            self.factor = (self.factor + RECOVERY_PER_SEC * dt).min(1.0);
        }
        let share = self.current_share();
        self.records = (self.records + SHARD_RECORDS_PER_SEC * share * dt)
            .min(SHARD_RECORDS_PER_SEC * share * BURST);
        self.bytes = (self.bytes + SHARD_BYTES_PER_SEC * share * dt)
            .min(SHARD_BYTES_PER_SEC * share * BURST);
    }

    /// Takes tokens for one Kinesis record of `bytes`, or says how long until it may go.
    ///
    /// A record passes whenever neither bucket is in debt, and may take it into debt: a record
    /// larger than a bucket still goes, and pays for it by delaying what follows.
    pub fn try_acquire(&mut self, bytes: usize, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.records >= 0.0 && self.bytes >= 0.0 {
            self.records -= 1.0;
            self.bytes -= bytes as f64;
            return Ok(());
        }
        let share = self.current_share();
        let wait_records = (-self.records).max(0.0) / (SHARD_RECORDS_PER_SEC * share);
        let wait_bytes = (-self.bytes).max(0.0) / (SHARD_BYTES_PER_SEC * share);
        Err(Duration::from_secs_f64(wait_records.max(wait_bytes)).max(Duration::from_micros(100)))
    }

    /// The service throttled a write to this shard: slow down.
    pub fn on_throttled(&mut self, now: Instant) {
        self.refill(now);
        let recent = self
            .last_throttle
            .is_some_and(|t| now.saturating_duration_since(t) < THROTTLE_DEBOUNCE);
        self.last_throttle = Some(now);
        if !recent {
            self.factor = (self.factor * THROTTLE_CUT).max(MIN_FACTOR);
            self.records = self.records.min(0.0);
            self.bytes = self.bytes.min(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records passed over `secs` seconds of simulated time, taking whenever allowed.
    fn passed_over(limiter: &mut ShardLimiter, start: Instant, secs: f64, bytes: usize) -> u64 {
        let end = start + Duration::from_secs_f64(secs);
        let mut now = start;
        let mut passed = 0;
        while now < end {
            match limiter.try_acquire(bytes, now) {
                Ok(()) => passed += 1,
                Err(wait) => now += wait,
            }
        }
        passed
    }

    #[test]
    fn holds_records_per_second_at_the_share() {
        let start = Instant::now();
        let mut limiter = ShardLimiter::new(100.0, start);
        let passed = passed_over(&mut limiter, start, 10.0, 10);
        assert!((9_990..=10_010).contains(&passed), "{passed}");
    }

    #[test]
    fn holds_bytes_per_second_when_bytes_bind() {
        let start = Instant::now();
        let mut limiter = ShardLimiter::new(50.0, start);
        // 50 KiB records: 512 KiB/s allows 10.24 a second, plus the first one at once.
        let passed = passed_over(&mut limiter, start, 10.0, 51_200);
        assert!((102..=104).contains(&passed), "{passed}");
    }

    #[test]
    fn no_one_second_window_exceeds_the_limit() {
        let start = Instant::now();
        let mut limiter = ShardLimiter::new(100.0, start);
        let mut now = start;
        let mut per_window = [0u32; 5];
        while now < start + Duration::from_secs(5) {
            match limiter.try_acquire(10, now) {
                Ok(()) => per_window[(now - start).as_secs() as usize] += 1,
                Err(wait) => now += wait,
            }
        }
        assert!(per_window.iter().all(|&n| n <= 1001), "{per_window:?}");
    }

    #[test]
    fn throttling_cuts_the_rate_and_quiet_restores_it() {
        let start = Instant::now();
        let mut limiter = ShardLimiter::new(100.0, start);
        limiter.on_throttled(start);
        // A second report within the debounce span is the same episode.
        limiter.on_throttled(start + Duration::from_millis(10));
        assert!((limiter.current_share() - 0.9).abs() < 1e-9);
        limiter.on_throttled(start + Duration::from_millis(300));
        assert!((limiter.current_share() - 0.81).abs() < 1e-9);
        let later = start + Duration::from_secs(4);
        let _ = limiter.try_acquire(1, later);
        assert!((limiter.current_share() - 1.0).abs() < 1e-9);
    }
}
