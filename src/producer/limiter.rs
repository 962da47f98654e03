//! Per-shard rate limiting: token buckets for records/s and bytes/s that back off on throttling.
//!
//! Each shard gets buckets filled at a share of its write limits (1,000 records/s, 1 MiB/s). A
//! throttle reported for the shard cuts its rate multiplicatively, but never below the most the
//! shard accepted in one of the last few whole seconds (which the service has shown it takes, so
//! the rate settles just under the limit instead of sawing far below it); after a quiet second
//! the rate climbs back gradually. (The KPL's limiter never reacts to throttling.) Buckets start
//! empty and hold at most a tenth of a second, so a burst never overruns the service's
//! one-second window.

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
    /// What the shard accepted, counted per whole second since `started`.
    started: Instant,
    accepted: Accepted,
}

/// Whole seconds whose accepted counts a throttle looks back on.
const PROVEN_SECONDS: u64 = 4;

/// Records and bytes a shard accepted in the current second, and the most (as a share of the
/// binding limit) it accepted in one of the `PROVEN_SECONDS` whole seconds before it.
#[derive(Debug, Clone, Default)]
struct Accepted {
    second: u64,
    records: f64,
    bytes: f64,
    /// (second, share of the limits accepted in it), newest last.
    recent: Vec<(u64, f64)>,
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
            started: now,
            accepted: Accepted::default(),
        }
    }

    /// Moves the accepted counts on to the second `now` falls in.
    fn roll_accepted(&mut self, now: Instant) {
        let second = now.saturating_duration_since(self.started).as_secs();
        let a = &mut self.accepted;
        if second != a.second {
            let share = (a.records / SHARD_RECORDS_PER_SEC).max(a.bytes / SHARD_BYTES_PER_SEC);
            a.recent.push((a.second, share));
            a.recent.retain(|(s, _)| s + PROVEN_SECONDS >= second);
            a.second = second;
            a.records = 0.0;
            a.bytes = 0.0;
        }
    }

    /// The shard accepted a Kinesis record of `bytes`.
    pub fn on_accepted(&mut self, bytes: usize, now: Instant) {
        self.roll_accepted(now);
        self.accepted.records += 1.0;
        self.accepted.bytes += bytes as f64;
    }

    /// The most of its limits (the binding one) the shard accepted in one of the last few whole
    /// seconds.
    fn proven_share(&mut self, now: Instant) -> f64 {
        self.roll_accepted(now);
        self.accepted
            .recent
            .iter()
            .map(|(_, share)| *share)
            .fold(0.0, f64::max)
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
            let proven = (self.proven_share(now) / self.share).min(self.factor);
            self.factor = (self.factor * THROTTLE_CUT).max(proven).max(MIN_FACTOR);
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

    #[test]
    fn a_throttle_never_cuts_below_what_the_shard_accepted_in_recent_seconds() {
        let start = Instant::now();
        let mut limiter = ShardLimiter::new(150.0, start);
        let ms = Duration::from_millis;
        // The shard takes 970 records of 10 bytes a second while throttles keep coming.
        for second in 0..3 {
            for i in 0..970 {
                limiter.on_accepted(10, start + ms(second * 1000 + i));
            }
        }
        for at in (1000..3000).step_by(300) {
            limiter.on_throttled(start + ms(at));
            let share = limiter.current_share();
            assert!(share >= 0.97 - 1e-9, "cut at {at} ms went to {share}");
        }
        assert!((limiter.current_share() - 0.97).abs() < 1e-9);
        // Seconds on, quiet and with nothing accepted since: recovered, then the plain cut.
        limiter.on_throttled(start + Duration::from_secs(8));
        assert!((limiter.current_share() - 1.5 * 0.9).abs() < 1e-9);
    }
}
