//! The KPL record format: many user records in one Kinesis record, as the KCL deaggregates them.
//! The producer writes it ([`Aggregator`]); the reader and the tests read it ([`deaggregate`]).
//!
//! ```text
//! F3 89 9A C2 | protobuf AggregatedRecord | MD5 of the protobuf bytes (16)
//! ```
//!
//! The [`Aggregator`] encodes each record as it arrives, so its exact final size is always known
//! and the limit is never overshot. Which records may share an aggregate (the same predicted
//! shard) is the producer pipeline's decision; this module encodes, decodes, and says which
//! aggregates the KCL accepts from a shard ([`kcl_accepts`]).

use crate::kinesis::hash_key::HashKey;
use crate::kinesis::shard_map::ShardInfo;
use md5::{Digest, Md5};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use prost::Message;
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::Hasher;

/// The four bytes every KPL aggregate starts with.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
const DIGEST_LEN: usize = 16;
/// Magic and digest together: what an empty aggregate costs.
pub const FRAMING_BYTES: usize = MAGIC.len() + DIGEST_LEN;
/// The partition key an aggregate is sent with; its explicit hash key pins the shard.
pub const AGGREGATE_PARTITION_KEY: &str = "a";

/// The protobuf message of an aggregate (proto2), used to decode.
#[derive(Clone, PartialEq, Message)]
pub struct AggregatedRecord {
    #[prost(string, repeated, tag = "1")]
    pub partition_key_table: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub explicit_hash_key_table: Vec<String>,
    #[prost(message, repeated, tag = "3")]
    pub records: Vec<SubRecord>,
}

/// One user record inside an aggregate.
#[derive(Clone, PartialEq, Message)]
pub struct SubRecord {
    #[prost(uint64, required, tag = "1")]
    pub partition_key_index: u64,
    #[prost(uint64, optional, tag = "2")]
    pub explicit_hash_key_index: Option<u64>,
    #[prost(bytes = "vec", required, tag = "3")]
    pub data: Vec<u8>,
    #[prost(message, repeated, tag = "4")]
    pub tags: Vec<Tag>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Tag {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// Encodes records into one aggregate, tracking its exact encoded size.
///
/// Everything is written straight into one buffer as it arrives: the magic, then table entries
/// and records interleaved in arrival order (protobuf decoders accept repeated fields in any
/// order), so finishing is only appending the digest. Repeated partition keys and explicit hash
/// keys share one table entry, found by a fast fingerprint and confirmed against the stored bytes.
#[derive(Debug)]
pub struct Aggregator {
    /// Partition-key fingerprint -> index in the key table.
    partition_keys: FxHashMap<u64, u64>,
    /// Index in the key table -> where that key's bytes sit in `buf`.
    partition_key_spans: Vec<(usize, usize)>,
    explicit_hash_keys: FxHashMap<u128, u64>,
    /// Magic followed by the protobuf body so far.
    buf: Vec<u8>,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator {
            partition_keys: FxHashMap::default(),
            partition_key_spans: Vec::new(),
            explicit_hash_keys: FxHashMap::default(),
            buf: MAGIC.to_vec(),
        }
    }
}

fn length_delimited_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn put_length_delimited(buf: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(bytes.len() as u64, buf);
    buf.extend_from_slice(bytes);
}

fn fingerprint(key: &str) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(key.as_bytes());
    hasher.finish()
}

/// The length of a `Record` message's body.
fn record_body_len(pk_index: u64, ehk_index: Option<u64>, data_len: usize) -> usize {
    1 + encoded_len_varint(pk_index)
        + ehk_index.map_or(0, |i| 1 + encoded_len_varint(i))
        + length_delimited_len(data_len)
}

impl Aggregator {
    pub fn new() -> Aggregator {
        Aggregator::default()
    }

    /// The size of the aggregate as it stands, framing included.
    pub fn encoded_len(&self) -> usize {
        self.buf.len() + DIGEST_LEN
    }

    /// The size of an aggregate holding only this record.
    pub fn encoded_len_alone(
        partition_key: &str,
        explicit_hash_key: Option<HashKey>,
        data_len: usize,
    ) -> usize {
        let ehk_len = explicit_hash_key.map_or(0, |k| length_delimited_len(decimal_len(k.0)));
        FRAMING_BYTES
            + length_delimited_len(partition_key.len())
            + ehk_len
            + length_delimited_len(record_body_len(0, explicit_hash_key.map(|_| 0), data_len))
    }

    fn partition_key_index(&self, key: &str) -> Option<u64> {
        let index = *self.partition_keys.get(&fingerprint(key))?;
        let (start, len) = self.partition_key_spans[index as usize];
        (&self.buf[start..start + len] == key.as_bytes()).then_some(index)
    }

    /// The size of the aggregate if this record were added.
    pub fn encoded_len_with(
        &self,
        partition_key: &str,
        explicit_hash_key: Option<HashKey>,
        data_len: usize,
    ) -> usize {
        let mut grow = 0;
        let pk_index = self.partition_key_index(partition_key).unwrap_or_else(|| {
            grow += length_delimited_len(partition_key.len());
            self.partition_key_spans.len() as u64
        });
        let ehk_index = explicit_hash_key.map(|ehk| {
            self.explicit_hash_keys
                .get(&ehk.0)
                .copied()
                .unwrap_or_else(|| {
                    grow += length_delimited_len(decimal_len(ehk.0));
                    self.explicit_hash_keys.len() as u64
                })
        });
        self.encoded_len()
            + grow
            + length_delimited_len(record_body_len(pk_index, ehk_index, data_len))
    }

    /// Appends a record. The caller checks the size with [`Aggregator::encoded_len_with`] first.
    pub fn add(&mut self, partition_key: &str, explicit_hash_key: Option<HashKey>, data: &[u8]) {
        let pk_index = match self.partition_key_index(partition_key) {
            Some(index) => index,
            None => {
                let index = self.partition_key_spans.len() as u64;
                put_length_delimited(&mut self.buf, 1, partition_key.as_bytes());
                let end = self.buf.len();
                self.partition_key_spans
                    .push((end - partition_key.len(), partition_key.len()));
                // A fingerprint collision just means the second key gets a table entry of its own.
                self.partition_keys
                    .insert(fingerprint(partition_key), index);
                index
            }
        };
        let ehk_index = explicit_hash_key.map(|ehk| {
            let next = self.explicit_hash_keys.len() as u64;
            *self.explicit_hash_keys.entry(ehk.0).or_insert_with(|| {
                put_length_delimited(&mut self.buf, 2, ehk.0.to_string().as_bytes());
                next
            })
        });
        let out = &mut self.buf;
        encode_key(3, WireType::LengthDelimited, out);
        encode_varint(record_body_len(pk_index, ehk_index, data.len()) as u64, out);
        encode_key(1, WireType::Varint, out);
        encode_varint(pk_index, out);
        if let Some(i) = ehk_index {
            encode_key(2, WireType::Varint, out);
            encode_varint(i, out);
        }
        put_length_delimited(out, 3, data);
    }

    /// The finished aggregate (magic, protobuf, MD5); the aggregator is empty afterwards, with
    /// room for an aggregate as large as this one.
    pub fn finish(&mut self) -> Vec<u8> {
        let digest = Md5::digest(&self.buf[MAGIC.len()..]);
        let mut next = Vec::with_capacity(self.buf.len() + DIGEST_LEN);
        next.extend_from_slice(&MAGIC);
        let mut out = std::mem::replace(&mut self.buf, next);
        out.extend_from_slice(&digest);
        self.clear();
        out
    }

    /// Drops everything added, keeping the allocations.
    pub fn clear(&mut self) {
        self.buf.truncate(MAGIC.len());
        self.partition_keys.clear();
        self.partition_key_spans.clear();
        self.explicit_hash_keys.clear();
    }
}

fn decimal_len(value: u128) -> usize {
    value.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// A user record as read back from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecordData {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    /// Position within its aggregate; 0 for a plain record.
    pub sub_sequence_number: u64,
    pub aggregated: bool,
}

/// Splits a Kinesis record into its user records.
///
/// Like the KCL, data that lacks the magic, fails the MD5 check or does not decode is returned as
/// one plain record.
pub fn deaggregate(
    partition_key: &str,
    explicit_hash_key: Option<&str>,
    data: &[u8],
) -> Vec<UserRecordData> {
    decode_aggregate(data).unwrap_or_else(|| {
        vec![UserRecordData {
            partition_key: partition_key.to_string(),
            explicit_hash_key: explicit_hash_key.map(str::to_string),
            data: data.to_vec(),
            sub_sequence_number: 0,
            aggregated: false,
        }]
    })
}

/// Whether the KCL hands the user records of one Kinesis record, read from `shard`, to its
/// consumer. It drops an aggregate whole (every sub-record, with a warning) when any sub-record's
/// hash key lies outside the shard's range; a plain record is never checked.
pub fn kcl_accepts(records: &[UserRecordData], shard: &ShardInfo) -> bool {
    records.iter().all(|r| {
        if !r.aggregated {
            return true;
        }
        let hash_key = match &r.explicit_hash_key {
            Some(ehk) => HashKey::parse_explicit(ehk).ok(),
            None => Some(HashKey::of_partition_key(&r.partition_key)),
        };
        hash_key.is_some_and(|k| shard.contains(k))
    })
}

fn decode_aggregate(data: &[u8]) -> Option<Vec<UserRecordData>> {
    if data.len() < FRAMING_BYTES || data[..MAGIC.len()] != MAGIC {
        return None;
    }
    let (body, digest) = data[MAGIC.len()..].split_at(data.len() - FRAMING_BYTES);
    if Md5::digest(body).as_slice() != digest {
        return None;
    }
    let message = AggregatedRecord::decode(body).ok()?;
    message
        .records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            Some(UserRecordData {
                partition_key: message
                    .partition_key_table
                    .get(r.partition_key_index as usize)?
                    .clone(),
                explicit_hash_key: match r.explicit_hash_key_index {
                    Some(e) => Some(message.explicit_hash_key_table.get(e as usize)?.clone()),
                    None => None,
                },
                data: r.data,
                sub_sequence_number: i as u64,
                aggregated: true,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Input = (String, Option<u128>, Vec<u8>);

    fn aggregate(records: &[Input]) -> Vec<u8> {
        let mut agg = Aggregator::new();
        for (pk, ehk, data) in records {
            let predicted = agg.encoded_len_with(pk, ehk.map(HashKey), data.len());
            agg.add(pk, ehk.map(HashKey), data);
            assert_eq!(
                agg.encoded_len(),
                predicted,
                "size prediction must be exact"
            );
        }
        let bytes = agg.finish();
        assert_eq!(
            agg.encoded_len(),
            FRAMING_BYTES,
            "finishing empties the aggregator"
        );
        bytes
    }

    #[test]
    fn repeated_keys_are_stored_once() {
        let bytes = aggregate(&[
            ("hot".into(), None, b"1".to_vec()),
            ("hot".into(), None, b"2".to_vec()),
            ("cold".into(), Some(7), b"3".to_vec()),
        ]);
        let message = AggregatedRecord::decode(&bytes[4..bytes.len() - 16]).unwrap();
        assert_eq!(message.partition_key_table, vec!["hot", "cold"]);
        assert_eq!(message.explicit_hash_key_table, vec!["7"]);
        assert_eq!(message.records[2].explicit_hash_key_index, Some(0));
    }

    #[test]
    fn plain_or_corrupt_data_comes_back_as_one_record() {
        let mut bytes = aggregate(&vec![("k".into(), None, b"x".to_vec()); 2]);
        assert_eq!(deaggregate("a", None, &bytes).len(), 2);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let plain = deaggregate("a", Some("5"), &bytes);
        assert_eq!(plain.len(), 1);
        assert!(!plain[0].aggregated);
        assert_eq!(plain[0].explicit_hash_key.as_deref(), Some("5"));
        assert_eq!(deaggregate("k", None, b"hello")[0].data, b"hello");
    }

    #[test]
    fn the_size_of_a_lone_record_is_exact() {
        for ehk in [None, Some(HashKey(0)), Some(HashKey(u128::MAX))] {
            let mut agg = Aggregator::new();
            agg.add("some-key", ehk, &[7u8; 300]);
            assert_eq!(
                Aggregator::encoded_len_alone("some-key", ehk, 300),
                agg.finish().len()
            );
        }
    }

    #[test]
    fn a_fingerprint_collision_only_costs_a_second_table_entry() {
        let mut agg = Aggregator::new();
        agg.add("first", None, b"1");
        // Point the second key's fingerprint at the first key's entry, as a collision would.
        agg.partition_keys.insert(fingerprint("second"), 0);
        assert_eq!(agg.partition_key_index("second"), None);
        agg.add("second", None, b"2");
        let back = deaggregate("a", None, &agg.finish());
        assert_eq!(back[0].partition_key, "first");
        assert_eq!(back[1].partition_key, "second");
    }

    #[test]
    fn decimal_lengths() {
        assert_eq!(decimal_len(0), 1);
        assert_eq!(decimal_len(9), 1);
        assert_eq!(decimal_len(10), 2);
        assert_eq!(decimal_len(u128::MAX), 39);
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(records in proptest::collection::vec(
            ("[a-z0-9é]{1,20}", proptest::option::of(any::<u128>()), proptest::collection::vec(any::<u8>(), 0..300)),
            1..60)
        ) {
            let bytes = aggregate(&records);
            let back = deaggregate("a", None, &bytes);
            prop_assert_eq!(back.len(), records.len());
            for (i, ((pk, ehk, data), got)) in records.iter().zip(&back).enumerate() {
                prop_assert_eq!(&got.partition_key, pk);
                prop_assert_eq!(got.explicit_hash_key.clone(), ehk.map(|e| e.to_string()));
                prop_assert_eq!(&got.data, data);
                prop_assert_eq!(got.sub_sequence_number, i as u64);
            }
        }
    }
}
