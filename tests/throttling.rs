//! A hot shard on ferrokinesis with limits enforced: the producer pushes at 150 % of the shard's
//! limit, gets throttled, slows down, and still delivers everything at close to the limit.
//!
//! What "close to the limit" means is read from the server's own per-second counts of what it
//! accepted, over the seconds the shard was saturated (the first and the last second, partly
//! spent starting and draining, are left out), so that a slow start on a loaded machine does not
//! count against the producer.

use crate::common;

use kwb::kinesis::server_metrics::{fetch, ShardSeries};
use kwb::producer::config::{ProducerConfig, SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};
use kwb::producer::metrics::ShardSnapshot;
use kwb::producer::record::NewRecord;
use std::time::Duration;

/// Sends `records` records of `size` bytes with one fixed key; returns the hot shard's metrics
/// (checked to hold every record and some throttles) and the server's series for it.
async fn hot_shard(aggregation: bool, records: usize, size: usize) -> (ShardSnapshot, ShardSeries) {
    let stream = "hot";
    let config = ProducerConfig {
        aggregation,
        rate_limit_percent: 150.0,
        ..ProducerConfig::default()
    };
    let (t, producer) = common::producer(stream, 2, config).await;
    let mut pending = Vec::new();
    for _ in 0..records {
        let record = NewRecord::new("hot-key", vec![b'x'; size]);
        pending.push(producer.put(record).await.unwrap());
    }
    for p in pending {
        let outcome = p.await;
        assert!(outcome.is_delivered(), "{outcome:?}");
    }
    let metrics = producer.metrics().snapshot(0);
    producer.shutdown(Duration::from_secs(1)).await;
    let shard = metrics
        .shards
        .into_iter()
        .find(|(_, s)| s.user_records > 0)
        .unwrap();
    assert_eq!(shard.1.user_records, records as u64);
    assert!(
        shard.1.throttled > 0,
        "150 % of the limit must be throttled"
    );
    let seen = fetch(
        &t.server.endpoint(),
        stream,
        600,
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    (shard.1, seen.shards[&shard.0].clone())
}

/// The mean of a per-second series over its saturated seconds: those strictly between the first
/// and the last second with any traffic.
fn saturated_mean(series: &[u64]) -> f64 {
    let first = series.iter().position(|&n| n > 0).unwrap();
    let last = series.iter().rposition(|&n| n > 0).unwrap();
    let middle = &series[first + 1..last];
    assert!(middle.len() >= 3, "too short to measure: {series:?}");
    middle.iter().sum::<u64>() as f64 / middle.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_limit_binds_and_at_least_ninety_percent_of_it_is_achieved() {
    let (shard, seen) = hot_shard(false, 8_000, 20).await;
    // Each throttled plain record is one retry of one user record.
    assert_eq!(shard.retries, shard.throttled);
    let achieved = saturated_mean(&seen.incoming_records);
    println!(
        "achieved {achieved:.0} records/s, throttled {}",
        shard.throttled
    );
    assert!(
        achieved >= 0.9 * SHARD_RECORDS_PER_SEC,
        "achieved {achieved:.0} records/s: {:?}",
        &seen.incoming_records[seen.incoming_records.len().saturating_sub(20)..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_limit_binds_for_aggregates_and_at_least_ninety_percent_of_it_is_achieved() {
    let (shard, seen) = hot_shard(true, 60_000, 100).await;
    assert!(
        shard.aggregation_fill() > 100.0,
        "aggregates were nearly empty"
    );
    let achieved = saturated_mean(&seen.incoming_bytes);
    println!(
        "achieved {:.0} KiB/s, throttled {}",
        achieved / 1024.0,
        shard.throttled
    );
    assert!(
        achieved >= 0.9 * SHARD_BYTES_PER_SEC,
        "achieved {achieved:.0} bytes/s: {:?}",
        &seen.incoming_bytes[seen.incoming_bytes.len().saturating_sub(20)..]
    );
}
