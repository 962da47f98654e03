//! Resharding under the producer's feet: after a split, records predicted for the closed parent
//! land on its children; the producer notices, refreshes its shard map, and never leaves a
//! sub-record on a shard that does not cover its hash key (the KCL would drop the aggregate).

mod common;

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
