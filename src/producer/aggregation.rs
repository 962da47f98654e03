//! KPL aggregation: many user records in one Kinesis record, in the format the KCL deaggregates.
//!
//! ```text
//! F3 89 9A C2 | protobuf AggregatedRecord | MD5 of the protobuf bytes (16)
//! ```
//!
//! The [`Aggregator`] encodes each record as it arrives, so its exact final size is always known
//! and the limit is never overshot. Which records may share an aggregate (the same predicted
//! shard) is the pipeline's decision; this module only encodes and decodes.

use crate::kinesis::hash_key::HashKey;
use md5::{Digest, Md5};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use prost::Message;
use std::collections::HashMap;

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
#[derive(Debug, Default)]
pub struct Aggregator {
    partition_keys: HashMap<String, u64>,
    explicit_hash_keys: HashMap<u128, u64>,
    partition_key_table: Vec<u8>,
    explicit_hash_key_table: Vec<u8>,
    records: Vec<u8>,
    count: usize,
}

fn length_delimited_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn put_length_delimited(buf: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(bytes.len() as u64, buf);
    buf.extend_from_slice(bytes);
}

impl Aggregator {
    pub fn new() -> Aggregator {
        Aggregator::default()
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The size of the aggregate as it stands, framing included.
    pub fn encoded_len(&self) -> usize {
        FRAMING_BYTES
            + self.partition_key_table.len()
            + self.explicit_hash_key_table.len()
            + self.records.len()
    }

    /// The size of the aggregate if this record were added.
    pub fn encoded_len_with(
        &self,
        partition_key: &str,
        explicit_hash_key: Option<HashKey>,
        data_len: usize,
    ) -> usize {
        let mut grow = 0;
        let pk_index = match self.partition_keys.get(partition_key) {
            Some(&i) => i,
            None => {
                grow += length_delimited_len(partition_key.len());
                self.partition_keys.len() as u64
            }
        };
        let mut inner = 1 + encoded_len_varint(pk_index) + length_delimited_len(data_len);
        if let Some(ehk) = explicit_hash_key {
            let ehk_index = match self.explicit_hash_keys.get(&ehk.0) {
                Some(&i) => i,
                None => {
                    grow += length_delimited_len(decimal_len(ehk.0));
                    self.explicit_hash_keys.len() as u64
                }
            };
            inner += 1 + encoded_len_varint(ehk_index);
        }
        self.encoded_len() + grow + length_delimited_len(inner)
    }

    /// Appends a record. The caller checks the size with [`Aggregator::encoded_len_with`] first.
    pub fn add(&mut self, partition_key: &str, explicit_hash_key: Option<HashKey>, data: &[u8]) {
        let next = self.partition_keys.len() as u64;
        let pk_index = *self
            .partition_keys
            .entry(partition_key.to_string())
            .or_insert_with(|| {
                put_length_delimited(&mut self.partition_key_table, 1, partition_key.as_bytes());
                next
            });
        let ehk_index = explicit_hash_key.map(|ehk| {
            let next = self.explicit_hash_keys.len() as u64;
            *self.explicit_hash_keys.entry(ehk.0).or_insert_with(|| {
                put_length_delimited(
                    &mut self.explicit_hash_key_table,
                    2,
                    ehk.0.to_string().as_bytes(),
                );
                next
            })
        });
        let mut inner = Vec::with_capacity(data.len() + 16);
        encode_key(1, WireType::Varint, &mut inner);
        encode_varint(pk_index, &mut inner);
        if let Some(i) = ehk_index {
            encode_key(2, WireType::Varint, &mut inner);
            encode_varint(i, &mut inner);
        }
        put_length_delimited(&mut inner, 3, data);
        put_length_delimited(&mut self.records, 3, &inner);
        self.count += 1;
    }

    /// The finished aggregate (magic, protobuf, MD5); the aggregator is empty afterwards.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        let body_start = out.len();
        out.extend_from_slice(&self.partition_key_table);
        out.extend_from_slice(&self.explicit_hash_key_table);
        out.extend_from_slice(&self.records);
        let digest = Md5::digest(&out[body_start..]);
        out.extend_from_slice(&digest);
        *self = Aggregator::default();
        out
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
        assert!(agg.is_empty());
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
