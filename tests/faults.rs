//! Faults between the producer and the server (resets, 500s, per-record InternalFailure, slow
//! answers) from a fault-injecting proxy: every record is still delivered, each resolves exactly
//! once, and the retries are counted.

use crate::common;

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

const LIST_SHARDS: &str = "Kinesis_20131202.ListShards";

/// Puts `n` small records with keys k0, k1, ...
fn put_many(producer: &Producer, n: usize) -> Vec<kwb::producer::PendingOutcome> {
    (0..n)
        .map(|i| {
            producer
                .try_put(NewRecord::new(format!("k{i}"), "x"))
                .unwrap()
        })
        .collect()
}

/// Panics in the first PutRecords call it sees, as a bug in the request path would.
#[derive(Debug, Default)]
struct PanicOnFirstPut {
    done: std::sync::atomic::AtomicBool,
}

impl aws_sdk_kinesis::config::Intercept for PanicOnFirstPut {
    fn name(&self) -> &'static str {
        "PanicOnFirstPut"
    }

    fn read_before_execution(
        &self,
        context: &aws_sdk_kinesis::config::interceptors::BeforeSerializationInterceptorContextRef<
            '_,
        >,
        _: &mut aws_sdk_kinesis::config::ConfigBag,
    ) -> Result<(), aws_sdk_kinesis::error::BoxError> {
        let is_put = context
            .input()
            .downcast_ref::<aws_sdk_kinesis::operation::put_records::PutRecordsInput>()
            .is_some();
        if is_put && !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            panic!("injected into the first PutRecords");
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_task_panics_is_retried_and_flush_returns() {
    let stream = "panicking-send";
    let t = common::target(stream, 2, false).await;
    let config = t
        .connection
        .producer
        .config()
        .to_builder()
        .interceptor(PanicOnFirstPut::default())
        .build();
    let client = aws_sdk_kinesis::Client::from_conf(config);
    let producer = Producer::start(client, stream, ProducerConfig::default())
        .await
        .unwrap();
    let pending = put_many(&producer, 200);
    tokio::time::timeout(Duration::from_secs(20), producer.flush())
        .await
        .expect("flush returns once every record has resolved");
    let mut attempts = Vec::new();
    for p in pending {
        match p.await {
            Outcome::Delivered(d) => attempts.push(d.attempts),
            failed => panic!("{failed:?}"),
        }
    }
    assert!(
        attempts.contains(&2),
        "the panicked request's records were retried"
    );
    let errors = producer.metrics().snapshot(0).errors_by_code;
    assert!(
        errors["SendTaskFailed"]
            .last_message
            .contains("injected into the first PutRecords"),
        "{errors:?}"
    );
    assert_eq!(
        producer.shutdown(Duration::from_secs(1)).await.undelivered,
        0
    );
    assert_eq!(
        common::read_all(&t.connection.admin, stream).await.len(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_map_refresh_that_never_answers_times_out_and_is_tried_again() {
    let stream = "hung-refresh";
    let t = common::proxied(stream, 2, 5, 0.0, &[Fault::Pass], Duration::ZERO).await;
    let config = ProducerConfig {
        request_timeout: Duration::from_millis(300),
        ..ProducerConfig::default()
    };
    let producer = Producer::start(t.via_proxy.producer.clone(), stream, config)
        .await
        .unwrap();
    t.proxy.hang(Some(LIST_SHARDS));
    common::split_first_shard(&t.direct.admin, stream).await;
    // Aggregates for the closed parent land on its children, which the producer's map lacks:
    // they are retried, and the map must be read again.
    let pending = put_many(&producer, 2_000);
    let hung = || t.proxy.stats.hung.load(std::sync::atomic::Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while hung() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the refresh was never tried again after a ListShards that never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // polling a counter
    }
    t.proxy.hang(None);
    for p in pending {
        let outcome = p.await;
        assert!(outcome.is_delivered(), "{outcome:?}");
    }
    assert_eq!(producer.shard_map().open_count(), 3);
    producer.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_whose_first_shard_listing_never_answers_fails_to_start_saying_so() {
    let stream = "hung-start";
    let t = common::proxied(stream, 1, 5, 0.0, &[Fault::Pass], Duration::ZERO).await;
    t.proxy.hang(Some(LIST_SHARDS));
    let config = ProducerConfig {
        request_timeout: Duration::from_millis(300),
        ..ProducerConfig::default()
    };
    let started = tokio::time::timeout(
        Duration::from_secs(20),
        Producer::start(t.via_proxy.producer.clone(), stream, config),
    )
    .await
    .expect("start gives up by itself");
    let Err(error) = started else {
        panic!("started without a shard map")
    };
    assert!(
        error.to_string().contains("did not answer within 300 ms"),
        "{error}"
    );
}
