//! Partition-key strategies: how each record's partition key (and explicit hash key) is chosen.

use crate::kinesis::hash_key::{validate_partition_key, HashKey, KeyError};
use std::str::FromStr;

/// The partition key sent with explicit-hash-key records (Kinesis requires one; it is ignored
/// for routing).
pub const EHK_PARTITION_KEY: &str = "ehk";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStrategy {
    /// A fresh UUID v4 per record: spreads evenly over the shards.
    Random,
    /// One key for every record: one hot shard.
    Fixed(String),
    /// Every record pinned to one point of the hash-key space.
    ExplicitHashKey(HashKey),
}

#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    #[error("--key {0:?} is not a strategy: use random, fixed:KEY or ehk:DECIMAL")]
    Unknown(String),
    #[error("--key {spec:?}: {error}")]
    BadKey { spec: String, error: KeyError },
}

impl FromStr for KeyStrategy {
    type Err = StrategyError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad = |error| StrategyError::BadKey {
            spec: spec.to_string(),
            error,
        };
        match spec.split_once(':') {
            None if spec == "random" => Ok(KeyStrategy::Random),
            Some(("fixed", key)) => {
                validate_partition_key(key).map_err(bad)?;
                Ok(KeyStrategy::Fixed(key.to_string()))
            }
            Some(("ehk", decimal)) => HashKey::parse_explicit(decimal)
                .map(KeyStrategy::ExplicitHashKey)
                .map_err(bad),
            _ => Err(StrategyError::Unknown(spec.to_string())),
        }
    }
}

impl KeyStrategy {
    /// The partition key and explicit hash key for the next record.
    pub fn next_key(&self) -> (String, Option<HashKey>) {
        match self {
            KeyStrategy::Random => (uuid::Uuid::new_v4().to_string(), None),
            KeyStrategy::Fixed(key) => (key.clone(), None),
            KeyStrategy::ExplicitHashKey(ehk) => (EHK_PARTITION_KEY.to_string(), Some(*ehk)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_parse_and_bad_keys_name_the_limit() {
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
        let err = format!("fixed:{}", "k".repeat(257))
            .parse::<KeyStrategy>()
            .unwrap_err();
        assert!(err.to_string().contains("limit is 256"), "{err}");
        let err = "ehk:340282366920938463463374607431768211456"
            .parse::<KeyStrategy>()
            .unwrap_err();
        assert!(err.to_string().contains("2^128-1"), "{err}");
        assert!("ehk:abc".parse::<KeyStrategy>().is_err());
        assert!("fixed:".parse::<KeyStrategy>().is_err());
        assert!("zipf".parse::<KeyStrategy>().is_err());
    }
}
