//! Over HTTP against ferrokinesis: everything the producer says it delivered is in the stream,
//! exactly once, on the shard the shard map predicted.

use crate::common;

use bytes::Bytes;
use kwb::compose::payload::Payloads;
use kwb::kinesis::hash_key::HashKey;
use kwb::producer::config::ProducerConfig;
use kwb::producer::outcome::Outcome;
use kwb::producer::record::NewRecord;
use std::collections::HashMap;
use std::time::Duration;

async fn round_trip(aggregation: bool, records: u64) {
    let stream = "roundtrip";
    let config = ProducerConfig {
        aggregation,
        ..ProducerConfig::default()
    };
    let (t, producer) = common::producer(stream, 4, config).await;
    let map = producer.shard_map();
    let payloads = Payloads::new(100, 7);
    let mut pending = Vec::with_capacity(records as usize);
    let mut keys = Vec::with_capacity(records as usize);
    for seq in 0..records {
        let key = uuid::Uuid::new_v4().to_string();
        let data = Bytes::from(payloads.payload(seq));
        keys.push(key.clone());
        pending.push(producer.put(NewRecord::new(key, data)).await.unwrap());
    }
    producer.flush().await;
    let mut outcomes = Vec::with_capacity(pending.len());
    for p in pending {
        outcomes.push(p.await);
    }
    let report = producer.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.undelivered, 0);

    let mut delivered_at = HashMap::new();
    for (seq, outcome) in outcomes.iter().enumerate() {
        let Outcome::Delivered(d) = outcome else {
            panic!("record {seq} failed: {outcome:?}");
        };
        let predicted = map
            .shard_for(HashKey::of_partition_key(&keys[seq]))
            .unwrap();
        assert_eq!(
            d.shard_id, predicted.shard_id,
            "record {seq} off its predicted shard"
        );
        if !aggregation {
            assert!(
                !d.aggregated,
                "record {seq} aggregated with aggregation off"
            );
        }
        delivered_at.insert(
            seq as u64,
            (d.sequence_number.clone(), d.sub_sequence_number),
        );
    }

    if aggregation {
        let aggregated = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Delivered(d) if d.aggregated))
            .count() as u64;
        assert!(
            aggregated > records * 9 / 10,
            "only {aggregated} of {records} outcomes say aggregated"
        );
    }

    let read = common::read_all(&t.connection.admin, stream).await;
    assert_eq!(
        read.len() as u64,
        records,
        "every record read back once, no more"
    );
    let mut seen = vec![false; records as usize];
    for r in &read {
        let seq = common::payload_seq(&r.data);
        assert!(!seen[seq as usize], "record {seq} read twice");
        seen[seq as usize] = true;
        assert_eq!(r.partition_key, keys[seq as usize]);
        assert_eq!(r.data, payloads.payload(seq));
        let predicted = map
            .shard_for(HashKey::of_partition_key(&keys[seq as usize]))
            .unwrap();
        assert_eq!(
            r.shard_id, predicted.shard_id,
            "record {seq} stored off its predicted shard"
        );
        let (sequence, sub) = &delivered_at[&seq];
        assert_eq!(
            &r.sequence_number, sequence,
            "record {seq}: outcome names another sequence number"
        );
        assert_eq!(r.sub_sequence_number, *sub);
    }
    assert!(seen.iter().all(|s| *s));
    if aggregation {
        assert!(read.iter().filter(|r| r.aggregated).count() as u64 > records * 9 / 10);
    } else {
        assert!(read.iter().all(|r| !r.aggregated));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_thousand_aggregated_records_read_back_exactly_once() {
    round_trip(true, 100_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_records_read_back_exactly_once() {
    round_trip(false, 8_000).await;
}
