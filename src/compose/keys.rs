//! Partition-key strategies: how each record's partition key (and explicit hash key) is chosen,
//! and what that does to the shards.

use crate::kinesis::hash_key::{validate_partition_key, HashKey, KeyError};
use crate::kinesis::shard_map::ShardMap;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use std::str::FromStr;

/// The partition key sent with explicit-hash-key records (Kinesis requires one; it is ignored
/// for routing).
pub const EHK_PARTITION_KEY: &str = "ehk";

#[derive(Debug, Clone, PartialEq)]
pub enum KeyStrategy {
    /// A fresh UUID v4 per record.
    Random,
    /// One key for every record.
    Fixed(String),
    /// Every record pinned to one point of the hash-key space.
    ExplicitHashKey(HashKey),
    /// Explicit hash keys at the middle of each open shard's range, in turn.
    ShardRoundRobin,
    /// The key read from the composed record (a JSON document) at a JSON pointer.
    Field(String),
    /// `keys` keys with Zipf skew `exponent`: a few hot keys, a long tail.
    Zipf { keys: u64, exponent: f64 },
    /// The record's sequence number.
    Seq,
}

/// Each strategy's syntax and what it does to the shards, for `kwb put --key help`.
pub const STRATEGY_HELP: &[(&str, &str)] = &[
    ("random", "a new UUID per record: load spreads evenly over the shards by their share of the key space"),
    ("fixed:KEY", "one key for every record: all load on one shard, which becomes hot and throttles once the rate passes its limit (aggregated, ~10,000 records/s of 100 bytes; on their own, 1,000/s)"),
    ("ehk:DECIMAL", "an explicit hash key (0 to 2^128-1) for every record: pins all load to the shard owning it"),
    ("shard-round-robin", "explicit hash keys at the middle of each open shard in turn: exactly even load, whatever the key space split"),
    ("field:JSON_POINTER", "the key taken from the composed record, e.g. field:/user/id: load follows your data"),
    ("zipf:N:S", "N keys (key-0 ...) with Zipf skew S, e.g. zipf:1000:1.2: a few hot keys make hot shards"),
    ("seq", "the record's sequence number as the key: spreads like random, but repeatable"),
];

#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    #[error("--key {0:?} is not a strategy: use random, fixed:KEY, ehk:DECIMAL, shard-round-robin, field:JSON_POINTER, zipf:N:S or seq (--key help explains each)")]
    Unknown(String),
    #[error("--key {spec:?}: {error}")]
    BadKey { spec: String, error: KeyError },
    #[error("--key {spec:?}: {message}")]
    BadParameter { spec: String, message: String },
}

impl FromStr for KeyStrategy {
    type Err = StrategyError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad_key = |error| StrategyError::BadKey {
            spec: spec.to_string(),
            error,
        };
        let bad = |message: &str| StrategyError::BadParameter {
            spec: spec.to_string(),
            message: message.to_string(),
        };
        match spec.split_once(':') {
            None => match spec {
                "random" => Ok(KeyStrategy::Random),
                "shard-round-robin" => Ok(KeyStrategy::ShardRoundRobin),
                "seq" => Ok(KeyStrategy::Seq),
                _ => Err(StrategyError::Unknown(spec.to_string())),
            },
            Some(("fixed", key)) => {
                validate_partition_key(key).map_err(bad_key)?;
                Ok(KeyStrategy::Fixed(key.to_string()))
            }
            Some(("ehk", decimal)) => HashKey::parse_explicit(decimal)
                .map(KeyStrategy::ExplicitHashKey)
                .map_err(bad_key),
            Some(("field", pointer)) => {
                if pointer.starts_with('/') {
                    Ok(KeyStrategy::Field(pointer.to_string()))
                } else {
                    Err(bad(
                        "the JSON pointer must start with /, e.g. field:/user/id",
                    ))
                }
            }
            Some(("zipf", params)) => {
                let (n, s) = params
                    .split_once(':')
                    .ok_or_else(|| bad("use zipf:N:S, e.g. zipf:1000:1.2"))?;
                let keys = n
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=10_000_000).contains(n))
                    .ok_or_else(|| bad("N (the number of keys) must be 1 to 10000000"))?;
                let exponent = s
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= 10.0)
                    .ok_or_else(|| bad("S (the skew) must be above 0 and at most 10"))?;
                Ok(KeyStrategy::Zipf { keys, exponent })
            }
            Some(_) => Err(StrategyError::Unknown(spec.to_string())),
        }
    }
}

impl KeyStrategy {
    /// Whether the key depends on the composed record (so the record is composed first).
    pub fn needs_record(&self) -> bool {
        matches!(self, KeyStrategy::Field(_))
    }

    /// The share of records the `rank`-th most frequent key (from 0) gets, for skewed strategies.
    pub fn expected_share(&self, rank: u64) -> Option<f64> {
        let KeyStrategy::Zipf { keys, exponent } = self else {
            return None;
        };
        let harmonic: f64 = (1..=*keys).map(|k| (k as f64).powf(-exponent)).sum();
        Some(((rank + 1) as f64).powf(-exponent) / harmonic)
    }
}

/// A key that could not be taken from a record.
#[derive(Debug, thiserror::Error)]
pub enum PickError {
    #[error("record {seq} is not JSON, so --key field:{pointer} has nothing to read: {message}")]
    NotJson {
        seq: u64,
        pointer: String,
        message: String,
    },
    #[error("record {seq} has no field at {pointer} for --key field:{pointer}")]
    Missing { seq: u64, pointer: String },
    #[error("record {seq}: the key at {pointer}: {error}")]
    BadKey {
        seq: u64,
        pointer: String,
        error: KeyError,
    },
}

/// Chooses keys by a strategy, with its own seeded generator.
pub struct KeyPicker {
    strategy: KeyStrategy,
    rng: SmallRng,
    zipf: Option<Zipf<f64>>,
    round_robin: Vec<HashKey>,
    next_shard: usize,
}

impl KeyPicker {
    pub fn new(strategy: KeyStrategy, map: &ShardMap, seed: u64) -> KeyPicker {
        let zipf = match strategy {
            KeyStrategy::Zipf { keys, exponent } => {
                Some(Zipf::new(keys, exponent).expect("validated"))
            }
            _ => None,
        };
        KeyPicker {
            strategy,
            rng: SmallRng::seed_from_u64(seed),
            zipf,
            round_robin: map.open_shards().map(|s| s.middle_hash_key()).collect(),
            next_shard: 0,
        }
    }

    pub fn strategy(&self) -> &KeyStrategy {
        &self.strategy
    }

    /// The partition key and explicit hash key of record `seq`; `record` is its data, read only
    /// by `field:`.
    pub fn pick(
        &mut self,
        seq: u64,
        record: &[u8],
    ) -> Result<(String, Option<HashKey>), PickError> {
        Ok(match &self.strategy {
            KeyStrategy::Random => {
                let uuid = uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid();
                (uuid.to_string(), None)
            }
            KeyStrategy::Fixed(key) => (key.clone(), None),
            KeyStrategy::ExplicitHashKey(ehk) => (EHK_PARTITION_KEY.to_string(), Some(*ehk)),
            KeyStrategy::ShardRoundRobin => {
                let i = self.next_shard % self.round_robin.len().max(1);
                self.next_shard = i + 1;
                (format!("shard-{i}"), self.round_robin.get(i).copied())
            }
            KeyStrategy::Zipf { .. } => {
                let rank = self.zipf.as_ref().expect("zipf").sample(&mut self.rng) as u64 - 1;
                (format!("key-{rank}"), None)
            }
            KeyStrategy::Seq => (seq.to_string(), None),
            KeyStrategy::Field(pointer) => (field(seq, pointer, record)?, None),
        })
    }
}

fn field(seq: u64, pointer: &str, record: &[u8]) -> Result<String, PickError> {
    let value: serde_json::Value =
        serde_json::from_slice(record).map_err(|e| PickError::NotJson {
            seq,
            pointer: pointer.to_string(),
            message: e.to_string(),
        })?;
    let key = match value.pointer(pointer) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => {
            return Err(PickError::Missing {
                seq,
                pointer: pointer.to_string(),
            })
        }
        Some(other) => other.to_string(),
    };
    validate_partition_key(&key).map_err(|error| PickError::BadKey {
        seq,
        pointer: pointer.to_string(),
        error,
    })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_parse_and_bad_ones_name_the_limit() {
        assert_eq!(
            "random".parse::<KeyStrategy>().unwrap(),
            KeyStrategy::Random
        );
        assert_eq!(
            "fixed:hot".parse::<KeyStrategy>().unwrap(),
            KeyStrategy::Fixed("hot".into())
        );
        assert_eq!(
            "ehk:42".parse::<KeyStrategy>().unwrap(),
            KeyStrategy::ExplicitHashKey(HashKey(42))
        );
        assert_eq!(
            "zipf:100:1.5".parse::<KeyStrategy>().unwrap(),
            KeyStrategy::Zipf {
                keys: 100,
                exponent: 1.5
            }
        );
        assert_eq!(
            "field:/a/b".parse::<KeyStrategy>().unwrap(),
            KeyStrategy::Field("/a/b".into())
        );
        let err = format!("fixed:{}", "k".repeat(257))
            .parse::<KeyStrategy>()
            .unwrap_err();
        assert!(err.to_string().contains("limit is 256"), "{err}");
        let err = "ehk:340282366920938463463374607431768211456"
            .parse::<KeyStrategy>()
            .unwrap_err();
        assert!(err.to_string().contains("2^128-1"), "{err}");
        for bad in [
            "ehk:abc",
            "fixed:",
            "zipf",
            "zipf:0:1",
            "zipf:10:0",
            "zipf:10",
            "field:a",
            "bogus:1",
        ] {
            assert!(bad.parse::<KeyStrategy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn round_robin_pins_each_shard_in_turn() {
        let map = ShardMap::even_split(4);
        let mut picker = KeyPicker::new(KeyStrategy::ShardRoundRobin, &map, 1);
        let shards: Vec<String> = (0..8)
            .map(|i| {
                let (_, ehk) = picker.pick(i, b"").unwrap();
                map.shard_for(ehk.unwrap()).unwrap().shard_id.clone()
            })
            .collect();
        assert_eq!(shards[0..4], shards[4..8]);
        let distinct: std::collections::HashSet<_> = shards.iter().collect();
        assert_eq!(distinct.len(), 4);
    }

    #[test]
    fn field_keys_come_from_the_record() {
        let map = ShardMap::even_split(1);
        let mut picker = KeyPicker::new("field:/user/id".parse().unwrap(), &map, 1);
        assert_eq!(
            picker.pick(0, br#"{"user":{"id":"u-7"}}"#).unwrap().0,
            "u-7"
        );
        assert_eq!(picker.pick(0, br#"{"user":{"id":12}}"#).unwrap().0, "12");
        let err = picker.pick(3, br#"{"user":{}}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("record 3 has no field at /user/id"),
            "{err}"
        );
        assert!(picker.pick(4, b"not json").is_err());
    }

    #[test]
    fn zipf_top_key_share_matches_its_parameters() {
        let strategy: KeyStrategy = "zipf:100:1.2".parse().unwrap();
        let expected = strategy.expected_share(0).unwrap();
        let mut picker = KeyPicker::new(strategy, &ShardMap::even_split(1), 7);
        let n = 100_000;
        let top = (0..n)
            .filter(|&i| picker.pick(i, b"").unwrap().0 == "key-0")
            .count();
        let share = top as f64 / n as f64;
        assert!((share - expected).abs() < 0.02, "{share} vs {expected}");
    }

    #[test]
    fn random_keys_are_repeatable_with_a_seed() {
        let map = ShardMap::even_split(1);
        let mut a = KeyPicker::new(KeyStrategy::Random, &map, 9);
        let mut b = KeyPicker::new(KeyStrategy::Random, &map, 9);
        assert_eq!(a.pick(0, b"").unwrap(), b.pick(0, b"").unwrap());
    }
}
