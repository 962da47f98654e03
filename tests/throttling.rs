//! A hot shard on ferrokinesis with limits enforced: the producer pushes at 150 % of the shard's
//! limit, gets throttled, slows down, and still delivers everything at close to the limit.

mod common;

use kwb::producer::config::{ProducerConfig, SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};
use kwb::producer::metrics::ShardSnapshot;
use kwb::producer::record::NewRecord;
use std::time::{Duration, Instant};

/// Sends `records` records of `size` bytes with one fixed key; returns the hot shard's metrics
/// (checked to hold every record and some throttles) and the time from the first put to the last
/// outcome.
async fn hot_shard(aggregation: bool, records: usize, size: usize) -> (ShardSnapshot, Duration) {
    let stream = "hot";
    let config = ProducerConfig {
        aggregation,
        rate_limit_percent: 150.0,
        ..ProducerConfig::default()
    };
    let (_server, producer) = common::producer(stream, 2, config).await;
    let start = Instant::now();
    let mut pending = Vec::new();
    for _ in 0..records {
        let record = NewRecord::new("hot-key", vec![b'x'; size]);
        pending.push(producer.put(record).await.unwrap());
    }
    for p in pending {
        let outcome = p.await;
        assert!(outcome.is_delivered(), "{outcome:?}");
    }
    let elapsed = start.elapsed();
    let metrics = producer.metrics().snapshot(0);
    producer.shutdown(Duration::from_secs(1)).await;
    let shard = metrics
        .shards
        .into_values()
        .find(|s| s.user_records > 0)
        .unwrap();
    assert_eq!(shard.user_records, records as u64);
    assert!(shard.throttled > 0, "150 % of the limit must be throttled");
    (shard, elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_limit_binds_and_at_least_ninety_percent_of_it_is_achieved() {
    let records = 8_000;
    let (shard, elapsed) = hot_shard(false, records, 20).await;
    // Each throttled plain record is one retry of one user record.
    assert_eq!(shard.retries, shard.throttled);
    let achieved = records as f64 / elapsed.as_secs_f64();
    println!(
        "achieved {achieved:.0} records/s, throttled {}",
        shard.throttled
    );
    assert!(
        achieved >= 0.9 * SHARD_RECORDS_PER_SEC,
        "achieved {achieved:.0} records/s in {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_limit_binds_for_aggregates_and_at_least_ninety_percent_of_it_is_achieved() {
    let records = 60_000;
    let (shard, elapsed) = hot_shard(true, records, 100).await;
    assert!(
        shard.aggregation_fill() > 100.0,
        "aggregates were nearly empty"
    );
    let achieved = shard.bytes as f64 / elapsed.as_secs_f64();
    println!(
        "achieved {:.0} KiB/s, throttled {}",
        achieved / 1024.0,
        shard.throttled
    );
    assert!(
        achieved >= 0.9 * SHARD_BYTES_PER_SEC,
        "achieved {achieved:.0} bytes/s in {elapsed:?}"
    );
}
