//! Resharding under the producer's feet: after a split, records predicted for the closed parent
//! land on its children; the producer notices, refreshes its shard map, and never leaves a
//! sub-record on a shard that does not cover its hash key (the KCL would drop the aggregate).

use crate::common;

use kwb::kinesis::hash_key::HashKey;
use kwb::kinesis::shard_map::list_shards;
use kwb::producer::config::ProducerConfig;
use kwb::producer::outcome::Outcome;
use kwb::producer::record::NewRecord;
use kwb::producer::Producer;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_shard_is_followed_and_no_record_lands_outside_its_shard() {
    let stream = "split";
    let t = common::target(stream, 2, false).await;
    let producer = Producer::start(
        t.connection.producer.clone(),
        stream,
        ProducerConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(producer.shard_map().open_count(), 2);

    let before = common::split_first_shard(&t.connection.admin, stream).await;
    let parent = &before.shards()[0];

    let keys: Vec<String> = (0..3_000).map(|i| format!("key-{i}")).collect();
    let mut pending = Vec::new();
    for key in &keys {
        pending.push(
            producer
                .put(NewRecord::new(key.clone(), "x"))
                .await
                .unwrap(),
        );
    }
    let after = list_shards(&t.connection.admin, stream).await.unwrap();
    for (key, p) in keys.iter().zip(pending) {
        let Outcome::Delivered(d) = p.await else {
            panic!("{key} failed")
        };
        let shard = after.get(&d.shard_id).unwrap();
        assert!(
            shard.contains(HashKey::of_partition_key(key)),
            "{key} on {}",
            d.shard_id
        );
    }
    let retried = producer.metrics().snapshot(0).sum(|s| s.retries);
    assert!(
        retried > 0,
        "no aggregate met the split: the test did not exercise it"
    );
    assert_eq!(
        producer.shard_map().open_count(),
        3,
        "the producer's map follows the split"
    );
    assert!(!producer.shard_map().get(&parent.shard_id).unwrap().open);
    producer.shutdown(Duration::from_secs(1)).await;
}

/// Merges two adjacent open shards and waits for the stream to be ACTIVE again.
async fn merge(client: &aws_sdk_kinesis::Client, stream: &str, shard: &str, adjacent: &str) {
    client
        .merge_shards()
        .stream_name(stream)
        .shard_to_merge(shard)
        .adjacent_shard_to_merge(adjacent)
        .send()
        .await
        .expect("merge shards");
    kwb::kinesis::admin::ensure_stream(client, stream, 1, false)
        .await
        .expect("stream active again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_sent_through_a_split_and_a_merge_reach_a_kcl_consumer_exactly_once() {
    use kwb::compose::payload::Payloads;
    use std::collections::HashSet;
    use std::sync::Arc;

    let stream = "reshard-under-load";
    let t = common::target(stream, 2, false).await;
    let producer = Arc::new(
        Producer::start(
            t.connection.producer.clone(),
            stream,
            ProducerConfig::default(),
        )
        .await
        .unwrap(),
    );
    let records = 30_000u64;
    let (progress, mut sent) = tokio::sync::watch::channel(0u64);
    let putting = {
        let producer = producer.clone();
        tokio::spawn(async move {
            let payloads = Payloads::new(40, 9);
            let mut pending = Vec::new();
            for seq in 0..records {
                let record = NewRecord::new(format!("key-{seq}"), payloads.payload(seq));
                pending.push(producer.put(record).await.unwrap());
                if seq % 50 == 49 {
                    // About 5,000 records/s, so that resharding happens while records flow.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    let _ = progress.send(seq + 1);
                }
            }
            let mut outcomes = Vec::new();
            for p in pending {
                outcomes.push(p.await);
            }
            outcomes
        })
    };
    let client = &t.connection.admin;
    sent.wait_for(|&n| n >= records / 3).await.unwrap();
    common::split_first_shard(client, stream).await;
    sent.wait_for(|&n| n >= 2 * records / 3).await.unwrap();
    // Merge the split's upper child with the shard after it.
    let map = list_shards(client, stream).await.unwrap();
    let open: Vec<_> = map.open_shards().map(|s| s.shard_id.clone()).collect();
    assert_eq!(open.len(), 3, "{open:?}");
    merge(client, stream, &open[1], &open[2]).await;
    let outcomes = putting.await.unwrap();
    assert!(
        producer.metrics().snapshot(0).sum(|s| s.retries) > 0,
        "no aggregate met a reshard: the test did not exercise it"
    );

    let mut delivered = HashSet::new();
    for (seq, outcome) in outcomes.iter().enumerate() {
        let Outcome::Delivered(d) = outcome else {
            panic!("record {seq}: {outcome:?}")
        };
        delivered.insert((d.sequence_number.clone(), d.sub_sequence_number));
    }
    // Read as a KCL consumer does: aggregates partly outside their shard are dropped whole.
    let read = common::read_all(client, stream).await;
    let mut seen = vec![0u32; records as usize];
    for r in &read {
        seen[common::payload_seq(&r.data) as usize] += 1;
        assert!(
            delivered.contains(&(r.sequence_number.clone(), r.sub_sequence_number)),
            "a copy no outcome names was read: {r:?}"
        );
    }
    let wrong: Vec<_> = seen.iter().enumerate().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "records not read exactly once: {:?}",
        &wrong[..wrong.len().min(10)]
    );
    assert_eq!(read.len(), delivered.len());
}
