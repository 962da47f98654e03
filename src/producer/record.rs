//! The records that move through the pipeline: user records as given to `put`, and the Kinesis
//! records (plain or aggregated) they travel in.

use crate::kinesis::hash_key::HashKey;
use crate::producer::backlog::ShardSlot;
use crate::producer::outcome::Outcome;
use bytes::Bytes;
use std::time::Instant;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// A record as a user hands it to the producer.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<HashKey>,
    pub data: Bytes,
}

impl NewRecord {
    pub fn new(partition_key: impl Into<String>, data: impl Into<Bytes>) -> NewRecord {
        NewRecord {
            partition_key: partition_key.into(),
            explicit_hash_key: None,
            data: data.into(),
        }
    }

    /// What the record counts for against Kinesis's size limits: key plus data.
    pub fn billed_bytes(&self) -> usize {
        self.partition_key.len() + self.data.len()
    }

    /// Where the record lands on the hash-key space: its explicit hash key, or its key's MD5.
    pub fn hash_key(&self) -> HashKey {
        self.explicit_hash_key
            .unwrap_or_else(|| HashKey::of_partition_key(&self.partition_key))
    }
}

/// The capacity a record holds until it resolves (released on drop).
#[derive(Debug)]
pub struct Permits {
    pub _records: OwnedSemaphorePermit,
    pub _bytes: OwnedSemaphorePermit,
    pub _shard: ShardSlot,
}

/// A user record inside the pipeline, with everything needed to resolve it.
#[derive(Debug)]
pub struct UserRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<HashKey>,
    pub hash_key: HashKey,
    pub data: Bytes,
    pub arrived: Instant,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub reply: oneshot::Sender<Outcome>,
    pub permits: Option<Permits>,
}

impl UserRecord {
    pub fn new(record: NewRecord, reply: oneshot::Sender<Outcome>, arrived: Instant) -> Self {
        let hash_key = record.hash_key();
        UserRecord::hashed(record, hash_key, reply, arrived)
    }

    /// A user record whose hash key (`record.hash_key()`) is known already.
    pub fn hashed(
        record: NewRecord,
        hash_key: HashKey,
        reply: oneshot::Sender<Outcome>,
        arrived: Instant,
    ) -> Self {
        UserRecord {
            partition_key: record.partition_key,
            explicit_hash_key: record.explicit_hash_key,
            hash_key,
            data: record.data,
            arrived,
            attempts: 0,
            last_error: None,
            reply,
            permits: None,
        }
    }

    pub fn billed_bytes(&self) -> usize {
        self.partition_key.len() + self.data.len()
    }

    /// Resolves the record. A receiver that has gone away no longer wants the outcome.
    pub fn resolve(self, outcome: Outcome) {
        let _ = self.reply.send(outcome);
    }
}

/// One entry of a PutRecords request: a plain user record or an aggregate of several.
#[derive(Debug)]
pub struct KinesisRecord {
    /// The shard the shard map predicted, by id.
    pub predicted_shard: std::sync::Arc<str>,
    pub partition_key: String,
    pub explicit_hash_key: Option<HashKey>,
    pub data: Bytes,
    /// The user records inside, in sub-sequence order.
    pub members: Vec<UserRecord>,
    /// When the oldest member must be on its way (never after `expires`).
    pub deadline: Instant,
    /// When the first member's TTL runs out; no attempt starts for it after that.
    pub expires: Instant,
}

impl KinesisRecord {
    pub fn billed_bytes(&self) -> usize {
        self.partition_key.len() + self.data.len()
    }

    pub fn is_aggregate(&self) -> bool {
        self.members.len() > 1
    }
}
