//! Partition keys and hash keys: the 128-bit space Kinesis routes records by.
//!
//! A partition key is 1..=256 Unicode characters; its hash key is the MD5 of its UTF-8 bytes read
//! as a big-endian `u128`. An explicit hash key is a decimal in `0..=2^128-1` that overrides it.
//! This module validates and converts; it knows nothing of shards.

use md5::{Digest, Md5};
use std::fmt;

/// Most characters a partition key may have.
pub const MAX_PARTITION_KEY_CHARS: usize = 256;

/// A position on the 128-bit hash-key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashKey(pub u128);

/// Bad input about keys, naming the field and the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("partition key is empty: it must have 1 to 256 characters")]
    EmptyPartitionKey,
    #[error("partition key has {0} characters: the limit is 256")]
    PartitionKeyTooLong(usize),
    #[error(
        "explicit hash key {0:?} is not a decimal integer (digits only, no sign or leading zeros)"
    )]
    HashKeyNotDecimal(String),
    #[error("explicit hash key {0} is out of range: the maximum is 2^128-1 (340282366920938463463374607431768211455)")]
    HashKeyOutOfRange(String),
}

impl HashKey {
    /// The hash key Kinesis assigns to a partition key: MD5, read big-endian.
    pub fn of_partition_key(key: &str) -> HashKey {
        let digest = Md5::digest(key.as_bytes());
        HashKey(u128::from_be_bytes(digest.into()))
    }

    /// Parses an explicit hash key as Kinesis accepts it: `0|[1-9][0-9]{0,38}`, at most 2^128-1.
    pub fn parse_explicit(text: &str) -> Result<HashKey, KeyError> {
        let well_formed = !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text == "0" || !text.starts_with('0'));
        if !well_formed {
            return Err(KeyError::HashKeyNotDecimal(text.to_string()));
        }
        text.parse::<u128>()
            .map(HashKey)
            .map_err(|_| KeyError::HashKeyOutOfRange(text.to_string()))
    }
}

impl fmt::Display for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Checks a partition key's length in Unicode characters.
pub fn validate_partition_key(key: &str) -> Result<(), KeyError> {
    // Counting chars is only needed when the byte length could exceed the limit.
    if key.is_empty() {
        return Err(KeyError::EmptyPartitionKey);
    }
    if key.len() > MAX_PARTITION_KEY_CHARS {
        let chars = key.chars().count();
        if chars > MAX_PARTITION_KEY_CHARS {
            return Err(KeyError::PartitionKeyTooLong(chars));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Computed independently with Python: int(hashlib.md5(k.encode()).hexdigest(), 16)
    const VECTORS: &[(&str, &str)] = &[
        ("a", "16955237001963240173058271559858726497"),
        ("hello", "123957004363873451094272536567338222994"),
        ("partition-key-1", "33365116028791453877729010807000998774"),
        ("ünïcödé", "256722031580718547613654307905579277080"),
    ];

    #[test]
    fn hash_keys_match_independent_md5_vectors() {
        for (key, expected) in VECTORS {
            assert_eq!(
                HashKey::of_partition_key(key).to_string(),
                *expected,
                "key {key}"
            );
        }
    }

    #[test]
    fn explicit_hash_key_bounds() {
        assert_eq!(HashKey::parse_explicit("0"), Ok(HashKey(0)));
        assert_eq!(
            HashKey::parse_explicit("340282366920938463463374607431768211455"),
            Ok(HashKey(u128::MAX))
        );
        assert!(matches!(
            HashKey::parse_explicit("340282366920938463463374607431768211456"),
            Err(KeyError::HashKeyOutOfRange(_))
        ));
        for bad in ["", "abc", "-1", "+1", "01", "1.0", " 1", "1e5"] {
            assert!(
                matches!(
                    HashKey::parse_explicit(bad),
                    Err(KeyError::HashKeyNotDecimal(_))
                ),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn partition_key_length_counts_characters_not_bytes() {
        assert_eq!(validate_partition_key(""), Err(KeyError::EmptyPartitionKey));
        assert!(validate_partition_key(&"k".repeat(256)).is_ok());
        assert_eq!(
            validate_partition_key(&"k".repeat(257)),
            Err(KeyError::PartitionKeyTooLong(257))
        );
        // 256 two-byte characters are 512 bytes but still a valid key.
        assert!(validate_partition_key(&"é".repeat(256)).is_ok());
        assert_eq!(
            validate_partition_key(&"é".repeat(257)),
            Err(KeyError::PartitionKeyTooLong(257))
        );
    }

    proptest! {
        #[test]
        fn explicit_hash_key_round_trips(value: u128) {
            let text = value.to_string();
            prop_assert_eq!(HashKey::parse_explicit(&text), Ok(HashKey(value)));
            prop_assert_eq!(HashKey(value).to_string(), text);
        }
    }
}
