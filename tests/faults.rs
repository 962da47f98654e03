//! Faults between the producer and the server (resets, 500s, per-record InternalFailure, slow
//! answers) from a fault-injecting proxy: every record is still delivered, each resolves exactly
//! once, and the retries are counted.

mod common;

use common::proxy::{Fault, FAULTS};
use kwb::compose::payload::Payloads;
use kwb::producer::config::ProducerConfig;
use kwb::producer::outcome::Outcome;
use kwb::producer::record::NewRecord;
use kwb::producer::Producer;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_record_lost_or_reported_twice_under_faults() {
    let stream = "faults";
    let t = common::proxied(stream, 4, 11, 0.5, &FAULTS[1..], Duration::from_millis(600)).await;
    let (direct, proxy) = (&t.direct, &t.proxy);

    let config = ProducerConfig {
        max_buffered_time: Duration::from_millis(5),
        request_timeout: Duration::from_millis(300),
        retry_base_delay: Duration::from_millis(10),
        retry_max_delay: Duration::from_millis(100),
        aggregation_max_bytes: 4096,
        ..ProducerConfig::default()
    };
    // The shard map is read directly; the puts go through the proxy.
    let producer = Producer::start(t.via_proxy.producer.clone(), stream, config)
        .await
        .unwrap();
    let records = 3_000u64;
    let payloads = Payloads::new(60, 3);
    let mut pending = Vec::new();
    for seq in 0..records {
        let key = format!("key-{}", seq % 97);
        pending.push(
            producer
                .put(NewRecord::new(key, payloads.payload(seq)))
                .await
                .unwrap(),
        );
        if seq % 100 == 99 {
            // Spread the records over many requests so that many meet a fault.
            tokio::task::yield_now().await;
        }
    }
    let mut delivered = Vec::new();
    for p in pending {
        match p.await {
            Outcome::Delivered(d) => delivered.push(d),
            failed => panic!("record failed: {failed:?}"),
        }
    }
    let metrics = producer.metrics().snapshot(0);
    assert_eq!(
        producer.shutdown(Duration::from_secs(1)).await.undelivered,
        0
    );
    assert_eq!(delivered.len() as u64, records, "one outcome per record");

    for fault in [
        Fault::ResetBeforeForward,
        Fault::ResetAfterForward,
        Fault::Http500,
        Fault::RecordFailures,
        Fault::Slow,
    ] {
        assert!(proxy.stats.count(fault) > 0, "{fault:?} was never injected");
    }
    let retries = metrics.sum(|s| s.retries);
    let errors = metrics.sum(|s| s.errors);
    assert!(
        retries > 0 && errors > 0,
        "retries {retries}, errors {errors}"
    );
    assert!(delivered.iter().any(|d| d.attempts > 1));

    // Every record is in the stream (faults after forwarding may have stored extra copies), and
    // the copy each outcome names is there.
    let read = common::read_all(&direct.admin, stream).await;
    let stored: HashSet<(String, u64)> = read
        .iter()
        .map(|r| (r.sequence_number.clone(), r.sub_sequence_number))
        .collect();
    let seqs: HashSet<u64> = read.iter().map(|r| common::payload_seq(&r.data)).collect();
    assert_eq!(seqs.len() as u64, records);
    for d in &delivered {
        assert!(stored.contains(&(d.sequence_number.clone(), d.sub_sequence_number)));
    }
}
