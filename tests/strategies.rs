//! Partition-key strategies on a 4-shard embedded stream, 20,000 records each: where the records
//! land is what each strategy promises.

use crate::common;

use kwb::compose::keys::{KeyPicker, KeyStrategy};
use kwb::compose::payload::Payloads;
use kwb::compose::{Composer, Source};
use kwb::producer::config::ProducerConfig;
use kwb::producer::outcome::Outcome;
use std::collections::HashMap;
use std::time::Duration;

const RECORDS: u64 = 20_000;

/// Sends RECORDS records with a strategy; returns records per shard and per partition key.
async fn spread(strategy: &str) -> (HashMap<String, u64>, HashMap<String, u64>) {
    let (_server, producer) = common::producer("spread", 4, ProducerConfig::default()).await;
    let strategy: KeyStrategy = strategy.parse().unwrap();
    let keys = KeyPicker::new(strategy, &producer.shard_map(), 5);
    let mut composer = Composer::new(Source::Sized(Payloads::new(50, 5)), keys, 5);
    let mut pending = Vec::new();
    for seq in 0..RECORDS {
        let record = composer.next(seq, &producer.shard_map()).unwrap().unwrap();
        let key = record.partition_key.clone();
        pending.push((key, producer.put(record).await.unwrap()));
    }
    let (mut shards, mut keys) = (HashMap::new(), HashMap::new());
    for (key, p) in pending {
        let Outcome::Delivered(d) = p.await else {
            panic!("record failed")
        };
        *shards.entry(d.shard_id).or_default() += 1;
        *keys.entry(key).or_default() += 1;
    }
    producer.shutdown(Duration::from_secs(1)).await;
    (shards, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_keys_put_every_shard_within_five_percent_of_a_quarter() {
    let (shards, _) = spread("random").await;
    assert_eq!(shards.len(), 4);
    for (shard, n) in shards {
        let share = n as f64 / RECORDS as f64;
        assert!((share - 0.25).abs() <= 0.05 * 0.25, "{shard}: {share}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_key_puts_everything_on_one_shard() {
    let (shards, _) = spread("fixed:hot").await;
    assert_eq!(shards.len(), 1);
    assert_eq!(shards.values().sum::<u64>(), RECORDS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_round_robin_puts_exactly_a_quarter_on_each_shard() {
    let (shards, _) = spread("shard-round-robin").await;
    assert_eq!(shards.len(), 4);
    assert!(shards.values().all(|&n| n == RECORDS / 4), "{shards:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipf_top_key_carries_the_share_its_parameters_predict() {
    let spec = "zipf:1000:1.1";
    let expected = spec
        .parse::<KeyStrategy>()
        .unwrap()
        .expected_share(0)
        .unwrap();
    let (_, keys) = spread(spec).await;
    let top = keys["key-0"] as f64 / RECORDS as f64;
    assert!(
        (top - expected).abs() <= 0.02,
        "top key share {top}, expected {expected}"
    );
    assert_eq!(keys.values().max(), Some(&keys["key-0"]));
}
