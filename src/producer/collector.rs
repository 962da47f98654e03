//! Collection: Kinesis records gathered into PutRecords requests of bounded count and size.

use crate::producer::record::KinesisRecord;
use std::time::Instant;

#[derive(Debug)]
pub struct Collector {
    max_count: usize,
    max_bytes: usize,
    records: Vec<KinesisRecord>,
    bytes: usize,
    deadline: Option<Instant>,
}

impl Collector {
    pub fn new(max_count: usize, max_bytes: usize) -> Collector {
        Collector {
            max_count,
            max_bytes,
            records: Vec::new(),
            bytes: 0,
            deadline: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// When the batch must go, if it holds anything.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Adds a record; returns the batch that had to be closed to make room, if any. A batch that
    /// becomes full is closed at once and returned too.
    pub fn push(&mut self, record: KinesisRecord) -> Vec<Vec<KinesisRecord>> {
        let mut closed = Vec::new();
        if !self.records.is_empty() && self.bytes + record.billed_bytes() > self.max_bytes {
            closed.push(self.take());
        }
        self.bytes += record.billed_bytes();
        self.deadline = Some(
            self.deadline
                .map_or(record.deadline, |d| d.min(record.deadline)),
        );
        self.records.push(record);
        if self.records.len() >= self.max_count || self.bytes >= self.max_bytes {
            closed.push(self.take());
        }
        closed
    }

    /// Closes the batch as it stands.
    pub fn take(&mut self) -> Vec<KinesisRecord> {
        self.bytes = 0;
        self.deadline = None;
        std::mem::take(&mut self.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn record(bytes: usize) -> KinesisRecord {
        KinesisRecord {
            predicted_shard: "s".into(),
            partition_key: "k".into(),
            explicit_hash_key: None,
            data: Bytes::from(vec![0u8; bytes - 1]),
            members: Vec::new(),
            deadline: Instant::now(),
            expires: Instant::now(),
        }
    }

    proptest! {
        #[test]
        fn batches_never_exceed_count_or_size(sizes in proptest::collection::vec(1usize..300_000, 1..2000)) {
            let (max_count, max_bytes) = (500, 1024 * 1024);
            let mut collector = Collector::new(max_count, max_bytes);
            let mut batches = Vec::new();
            for &s in &sizes {
                batches.extend(collector.push(record(s)));
            }
            batches.push(collector.take());
            let mut seen = 0;
            for batch in &batches {
                prop_assert!(batch.len() <= max_count);
                prop_assert!(batch.iter().map(KinesisRecord::billed_bytes).sum::<usize>() <= max_bytes);
                seen += batch.len();
            }
            prop_assert_eq!(seen, sizes.len());
        }
    }
}
