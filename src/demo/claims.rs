//! What a stage claims, as its scenario's `[stage.expect]` table says, and each claim checked
//! against what the stage measured: the claim as written, whether it held, and the number
//! that decided it.

use crate::demo::measure::Measure;
use serde::{Deserialize, Serialize};

/// The claims a stage may make; each one left out is not checked.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Exactly this many shards saw throttled attempts.
    pub throttled_shards: Option<usize>,
    /// Exactly this many shards used at least 80 % of a write limit.
    pub hot_shards: Option<usize>,
    /// No shard took more than this share of the records (0 to 1).
    pub max_shard_share: Option<f64>,
    /// Every open shard took at least this share of the records.
    pub min_shard_share: Option<f64>,
    /// Records landed on these shards only.
    pub only_shards: Option<Vec<String>>,
    /// Delivered user records per second, for the stream.
    pub min_records_per_sec: Option<f64>,
    pub max_records_per_sec: Option<f64>,
    /// The busiest shard delivered at least this many user records per second.
    pub min_shard_records_per_sec: Option<f64>,
    /// API calls per delivered user record.
    pub min_calls_per_record: Option<f64>,
    pub max_calls_per_record: Option<f64>,
    /// Kinesis records per user record (aggregation packs many into one).
    pub max_kinesis_records_per_record: Option<f64>,
    /// At least this many throttled attempts.
    pub min_throttled: Option<u64>,
    /// No record failed.
    pub no_failures: Option<bool>,
    /// Open shards when the stage ends.
    pub open_shards: Option<usize>,
    /// The hottest shard's busiest key carried at least this share of it.
    pub min_top_key_share: Option<f64>,
    /// The hottest shard's advice says this (e.g. "split", "key strategy").
    pub advice: Option<String>,
}

/// One claim, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub claim: String,
    pub passed: bool,
    pub measured: String,
}

fn share_ok(value: Option<f64>) -> bool {
    value.is_none_or(|v| v.is_finite() && (0.0..=1.0).contains(&v))
}

fn rate_ok(value: Option<f64>) -> bool {
    value.is_none_or(|v| v.is_finite() && v >= 0.0)
}

impl Expect {
    /// Refuses claims that could never hold or say nothing, for a stage that ends with `open`
    /// open shards.
    pub fn check(&self, open: usize) -> Result<(), String> {
        let counts = [
            ("throttled_shards", self.throttled_shards),
            ("hot_shards", self.hot_shards),
        ];
        if let Some((name, n)) = counts.iter().find(|(_, n)| n.is_some_and(|n| n > open)) {
            return Err(format!(
                "{name} = {}: the stream has {open} open shards then",
                n.unwrap_or_default()
            ));
        }
        if let Some(n) = self.open_shards.filter(|n| *n != open) {
            return Err(format!(
                "open_shards = {n}: the stream has {open} open shards then (its shards and the actions before say so)"
            ));
        }
        if self.only_shards.as_ref().is_some_and(Vec::is_empty) {
            return Err("only_shards = []: name at least one shard".into());
        }
        if self.no_failures == Some(false) {
            return Err("no_failures = false claims nothing: leave it out".into());
        }
        if self.advice.as_deref().is_some_and(|a| a.trim().is_empty()) {
            return Err("advice = \"\": give the words the advice must contain".into());
        }
        let ranges = [
            ("shard share", self.min_shard_share, self.max_shard_share),
            (
                "records_per_sec",
                self.min_records_per_sec,
                self.max_records_per_sec,
            ),
            (
                "calls_per_record",
                self.min_calls_per_record,
                self.max_calls_per_record,
            ),
        ];
        for (what, low, high) in ranges {
            if let (Some(low), Some(high)) = (low, high) {
                if low > high {
                    return Err(format!(
                        "the least {what} ({low}) is over the most ({high})"
                    ));
                }
            }
        }
        self.check_numbers()
    }

    /// Shares within 0..1, rates and ratios from 0 up.
    fn check_numbers(&self) -> Result<(), String> {
        let shares = [
            ("max_shard_share", self.max_shard_share),
            ("min_shard_share", self.min_shard_share),
            ("min_top_key_share", self.min_top_key_share),
        ];
        if let Some((name, v)) = shares.iter().find(|(_, v)| !share_ok(*v)) {
            return Err(format!(
                "{name} = {}: a share from 0 to 1",
                v.unwrap_or_default()
            ));
        }
        let rates = [
            ("min_records_per_sec", self.min_records_per_sec),
            ("max_records_per_sec", self.max_records_per_sec),
            ("min_shard_records_per_sec", self.min_shard_records_per_sec),
            ("min_calls_per_record", self.min_calls_per_record),
            ("max_calls_per_record", self.max_calls_per_record),
            (
                "max_kinesis_records_per_record",
                self.max_kinesis_records_per_record,
            ),
        ];
        if let Some((name, v)) = rates.iter().find(|(_, v)| !rate_ok(*v)) {
            return Err(format!(
                "{name} = {}: a number from 0 up",
                v.unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// Every claim made, checked against `m`.
    pub fn checks(&self, m: &Measure) -> Vec<Check> {
        let mut out = Vec::new();
        let mut check = |claim: String, passed: bool, measured: String| {
            out.push(Check {
                claim,
                passed,
                measured,
            })
        };
        let listed = |ids: &[&str]| {
            if ids.is_empty() {
                "none".to_string()
            } else {
                ids.join(", ")
            }
        };
        let counted = [
            (
                "throttled_shards",
                self.throttled_shards,
                m.throttled_shards(),
            ),
            ("hot_shards", self.hot_shards, m.hot_shards()),
        ];
        for (name, claimed, ids) in counted {
            if let Some(n) = claimed {
                check(
                    format!("{name} = {n}"),
                    ids.len() == n,
                    format!("{} ({})", ids.len(), listed(&ids)),
                );
            }
        }
        let open = || m.shards.iter().filter(|(_, s)| s.open);
        if let Some(max) = self.max_shard_share {
            let top = open().map(|(_, s)| s.share).fold(0.0, f64::max);
            check(
                format!("max_shard_share = {max}"),
                top <= max,
                format!("{top:.3}"),
            );
        }
        if let Some(min) = self.min_shard_share {
            let low = open().map(|(_, s)| s.share).fold(1.0, f64::min);
            check(
                format!("min_shard_share = {min}"),
                low >= min,
                format!("{low:.3}"),
            );
        }
        if let Some(only) = &self.only_shards {
            let landed: Vec<&str> = m
                .shards
                .iter()
                .filter(|(_, s)| s.records > 0)
                .map(|(id, _)| id.as_str())
                .collect();
            let passed = !landed.is_empty() && landed.iter().all(|id| only.iter().any(|o| o == id));
            check(format!("only_shards = {only:?}"), passed, listed(&landed));
        }
        let mut at_least = |name: &str, limit: Option<f64>, value: f64, up: bool| {
            if let Some(limit) = limit {
                let passed = if up { value >= limit } else { value <= limit };
                check(format!("{name} = {limit}"), passed, format!("{value:.3}"));
            }
        };
        at_least(
            "min_records_per_sec",
            self.min_records_per_sec,
            m.records_per_sec,
            true,
        );
        at_least(
            "max_records_per_sec",
            self.max_records_per_sec,
            m.records_per_sec,
            false,
        );
        let busiest = m
            .shards
            .values()
            .map(|s| s.records_per_sec)
            .fold(0.0, f64::max);
        at_least(
            "min_shard_records_per_sec",
            self.min_shard_records_per_sec,
            busiest,
            true,
        );
        at_least(
            "min_calls_per_record",
            self.min_calls_per_record,
            m.calls_per_record,
            true,
        );
        at_least(
            "max_calls_per_record",
            self.max_calls_per_record,
            m.calls_per_record,
            false,
        );
        at_least(
            "max_kinesis_records_per_record",
            self.max_kinesis_records_per_record,
            m.kinesis_records_per_record,
            false,
        );
        if let Some(min) = self.min_throttled {
            check(
                format!("min_throttled = {min}"),
                m.throttled >= min,
                m.throttled.to_string(),
            );
        }
        if self.no_failures == Some(true) {
            check(
                "no_failures = true".into(),
                m.failed == 0,
                format!("{} failed", m.failed),
            );
        }
        if let Some(n) = self.open_shards {
            check(
                format!("open_shards = {n}"),
                m.open_shards == n,
                m.open_shards.to_string(),
            );
        }
        if let Some(min) = self.min_top_key_share {
            let top = m.top_keys.first();
            check(
                format!("min_top_key_share = {min}"),
                top.is_some_and(|k| k.share >= min),
                top.map_or("no keys".into(), |k| {
                    format!("{} {:.3}", k.key.escape_debug(), k.share)
                }),
            );
        }
        if let Some(words) = &self.advice {
            let advice = m.advice.clone().unwrap_or_default();
            check(
                format!("advice = {words:?}"),
                advice.contains(words.as_str()),
                advice,
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::measure::ShardMeasure;

    fn shard(records: u64, limit_use: f64, throttled: u64) -> ShardMeasure {
        ShardMeasure {
            records,
            share: records as f64 / 1000.0,
            records_per_sec: records as f64 / 10.0,
            limit_use,
            throttled,
            open: true,
            ..ShardMeasure::default()
        }
    }

    /// One hot, throttled shard of four with one key on it.
    fn hot() -> Measure {
        Measure {
            seconds: 10.0,
            records: 1000,
            records_per_sec: 100.0,
            calls_per_record: 0.5,
            kinesis_records_per_record: 1.0,
            throttled: 7,
            failed: 0,
            open_shards: 4,
            shards: [
                ("shardId-0".to_string(), shard(0, 0.0, 0)),
                ("shardId-1".to_string(), shard(0, 0.0, 0)),
                ("shardId-2".to_string(), shard(1000, 0.97, 7)),
                ("shardId-3".to_string(), shard(0, 0.0, 0)),
            ]
            .into(),
            hottest: Some("shardId-2".into()),
            top_keys: vec![crate::hot_keys::KeyShare {
                key: "tenant-42".into(),
                records: 1000,
                bytes: 100_000,
                share: 1.0,
                bytes_share: 1.0,
                error: 0,
            }],
            advice: Some("hot: splitting cannot spread one key".into()),
            ..Measure::default()
        }
    }

    fn verdicts(expect: &str, m: &Measure) -> Vec<(String, bool)> {
        let expect: Expect = toml::from_str(expect).unwrap();
        expect
            .checks(m)
            .into_iter()
            .map(|c| (c.claim, c.passed))
            .collect()
    }

    #[test]
    fn each_claim_holds_or_fails_on_its_number() {
        let m = hot();
        let held = verdicts(
            "throttled_shards = 1\nhot_shards = 1\nonly_shards = [\"shardId-2\"]\nmin_throttled = 7\nno_failures = true\nopen_shards = 4\nmin_top_key_share = 0.99\nadvice = \"one key\"\nmax_shard_share = 1.0\nmin_shard_records_per_sec = 100\nmax_calls_per_record = 0.5\nmax_kinesis_records_per_record = 1",
            &m,
        );
        assert!(held.iter().all(|(_, ok)| *ok), "{held:?}");
        assert_eq!(held.len(), 12);
        let failed = verdicts(
            "throttled_shards = 0\nhot_shards = 0\nonly_shards = [\"shardId-1\"]\nmin_throttled = 8\nopen_shards = 2\nmin_top_key_share = 1.01\nadvice = \"aggregation\"\nmax_shard_share = 0.3\nmin_shard_share = 0.2\nmin_records_per_sec = 101\nmax_records_per_sec = 99\nmin_calls_per_record = 0.6",
            &m,
        );
        assert!(failed.iter().all(|(_, ok)| !*ok), "{failed:?}");
        assert_eq!(failed.len(), 12);
        let mut broken = m.clone();
        broken.failed = 3;
        assert_eq!(
            verdicts("no_failures = true", &broken),
            [("no_failures = true".into(), false)]
        );
        assert!(verdicts("", &m).is_empty(), "no claims, nothing checked");
    }

    #[test]
    fn records_on_no_shard_are_not_only_on_the_named_ones() {
        let mut idle = hot();
        for s in idle.shards.values_mut() {
            s.records = 0;
        }
        assert_eq!(
            verdicts("only_shards = [\"shardId-2\"]", &idle),
            [("only_shards = [\"shardId-2\"]".into(), false)]
        );
    }
}
