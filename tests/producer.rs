//! The producer's promises over HTTP against ferrokinesis: bounded memory (backpressure),
//! shutdown that reports what it could not deliver, and errors retrying cannot fix.

use crate::common;

use common::proxy::Fault;
use kwb::producer::config::{Api, ProducerConfig, Tuning};
use kwb::producer::outcome::{FailureReason, Outcome};
use kwb::producer::record::NewRecord;
use kwb::producer::{Producer, PutError};
use std::time::Duration;

fn record(i: u32) -> NewRecord {
    NewRecord::new(format!("key-{i}"), vec![b'x'; 100])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_producer_refuses_or_waits_and_frees_room_as_records_resolve() {
    let config = ProducerConfig {
        max_outstanding_records: 50,
        ..ProducerConfig::default()
    };
    let (_server, producer) = common::producer("bounded", 2, config).await;
    let mut accepted = Vec::new();
    let full = loop {
        match producer.try_put(record(accepted.len() as u32)) {
            Ok(pending) => accepted.push(pending),
            Err(e) => break e,
        }
    };
    assert_eq!(accepted.len(), 50);
    assert!(
        matches!(full, PutError::Full("max_outstanding_records")),
        "{full}"
    );
    // `put` waits rather than exceed the bound: polled once now, it is not ready.
    {
        // `put` waits rather than exceed the bound: polled once now, it is not ready.
        let waiting = producer.put(record(999));
        tokio::pin!(waiting);
        tokio::select! {
            biased;
            _ = &mut waiting => panic!("put went past the bound"),
            _ = std::future::ready(()) => {}
        }
        for pending in accepted {
            assert!(pending.await.is_delivered());
        }
        let last = waiting.await.unwrap();
        assert!(last.await.is_delivered());
    }
    assert!(producer.try_put(record(1000)).is_ok());
    producer.flush().await;
    producer.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_bound_counts_key_and_data() {
    let config = ProducerConfig {
        max_outstanding_bytes: 1024 * 1024,
        ..ProducerConfig::default()
    };
    let (_server, producer) = common::producer("bytes", 1, config).await;
    // Four records' data is exactly the bound; with their 256-byte keys, the fourth is over it.
    let big = || NewRecord::new("k".repeat(256), vec![0u8; 256 * 1024]);
    let held: Vec<_> = (0..3).map(|_| producer.try_put(big()).unwrap()).collect();
    assert!(matches!(
        producer.try_put(big()),
        Err(PutError::Full("max_outstanding_bytes"))
    ));
    for pending in held {
        assert!(pending.await.is_delivered());
    }
    producer.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_reports_every_record_it_could_not_deliver() {
    // Every PutRecords answer comes too late; every attempt times out.
    let t = common::proxied("stuck", 1, 1, 1.0, &[Fault::Slow], Duration::from_secs(2)).await;
    let config = ProducerConfig {
        request_timeout: Duration::from_millis(200),
        ..ProducerConfig::default()
    };
    let producer = Producer::start(t.via_proxy.producer.clone(), "stuck", config)
        .await
        .unwrap();
    let pending: Vec<_> = (0..20)
        .map(|i| producer.try_put(record(i)).unwrap())
        .collect();
    let report = producer.shutdown(Duration::from_millis(500)).await;
    assert_eq!(report.undelivered, 20);
    for p in pending {
        match p.await {
            Outcome::Failed(f) => assert!(matches!(f.reason, FailureReason::Shutdown(_)), "{f:?}"),
            delivered => panic!("{delivered:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_stream_fails_records_at_once_with_the_service_message() {
    let (t, producer) = common::producer("doomed", 1, ProducerConfig::default()).await;
    t.connection
        .admin
        .delete_stream()
        .stream_name("doomed")
        .send()
        .await
        .unwrap();
    let outcome = producer.put(record(1)).await.unwrap().await;
    let Outcome::Failed(f) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(f.attempts, 1);
    let FailureReason::Rejected { code, message } = &f.reason else {
        panic!("{:?}", f.reason)
    };
    assert_eq!(code, "ResourceNotFoundException");
    assert!(message.contains("doomed"), "{message}");
    producer.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_are_refused_before_they_are_queued() {
    let (_server, producer) = common::producer("checks", 1, ProducerConfig::default()).await;
    let err = producer.try_put(NewRecord::new("", "x")).err().unwrap();
    assert!(err.to_string().contains("1 to 256"), "{err}");
    let err = producer
        .try_put(NewRecord::new("k".repeat(257), "x"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("limit is 256"), "{err}");
    let err = producer
        .try_put(NewRecord::new("k", vec![0u8; 1024 * 1024]))
        .err()
        .unwrap();
    assert!(err.to_string().contains("1048577 bytes"), "{err}");
    producer.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_records_request_at_the_five_mebibyte_limit_is_accepted() {
    use kwb::producer::pipeline::EntryResult;
    use kwb::producer::record::KinesisRecord;
    let t = common::target("big", 1, false).await;
    // 20 records of 256 KiB (less the key): 5 MiB of keys and data, ~7 MB of JSON body.
    let batch: Vec<KinesisRecord> = (0..20)
        .map(|i| KinesisRecord {
            predicted_shard: "shardId-000000000000".into(),
            partition_key: format!("k{i:03}"),
            explicit_hash_key: None,
            data: vec![b'x'; 256 * 1024 - 4].into(),
            members: Vec::new(),
            deadline: std::time::Instant::now(),
            expires: std::time::Instant::now() + std::time::Duration::from_secs(60),
        })
        .collect();
    assert_eq!(
        batch.iter().map(KinesisRecord::billed_bytes).sum::<usize>(),
        5 * 1024 * 1024
    );
    let entries = kwb::producer::sender::request_entries(&batch).unwrap();
    let result = kwb::producer::sender::put_records(
        &t.connection.producer,
        "big",
        entries,
        Duration::from_secs(10),
    )
    .await
    .expect("request accepted");
    assert!(
        result.iter().all(|e| matches!(e, EntryResult::Ok { .. })),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_that_create_the_same_stream_at_once_all_succeed() {
    let server = common::server(true).await;
    let connection = common::clients(&server.endpoint()).await;
    // Each looks the stream up, finds it missing and creates it: all but one are told it exists.
    let creating: Vec<_> = (0..8)
        .map(|_| {
            let client = connection.admin.clone();
            tokio::spawn(async move {
                kwb::kinesis::admin::ensure_stream(&client, "raced", 2, true).await
            })
        })
        .collect();
    for task in creating {
        task.await
            .unwrap()
            .expect("the stream exists and is active");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_the_api_while_sending_keeps_every_record_once() {
    let stream = "ways";
    let (t, producer) = common::producer(stream, 2, ProducerConfig::default()).await;
    let start = producer.metrics().snapshot(0).requests;
    let ways = [
        (Api::PutRecords, true),
        (Api::PutRecord, false),
        (Api::PutRecords, false),
    ];
    let mut pending = Vec::new();
    let mut calls = Vec::new();
    for (phase, (api, aggregation)) in ways.into_iter().enumerate() {
        let before = producer.metrics().snapshot(0).requests;
        producer
            .tune(Tuning {
                api,
                aggregation,
                ..ProducerConfig::default().tuning()
            })
            .unwrap();
        // Put without waiting: the switch lands while records of the last phase are buffered.
        for i in 0..300u64 {
            let seq = phase as u64 * 300 + i;
            let record = NewRecord::new(
                format!("key-{}", seq % 37),
                format!("{seq} way").into_bytes(),
            );
            pending.push(producer.put(record).await.unwrap());
        }
        producer.flush().await;
        calls.push(producer.metrics().snapshot(0).requests - before);
    }
    for outcome in pending {
        assert!(outcome.await.is_delivered());
    }
    let requests = producer.metrics().snapshot(0).requests - start;
    producer.shutdown(Duration::from_secs(5)).await;
    assert!(calls[1] >= 300, "one PutRecord call a record: {calls:?}");
    // Plain records are paced by the shards' records limit, so their batches are smaller.
    assert!(
        calls[0] < 30 && calls[2] < 200,
        "PutRecords batches: {calls:?}"
    );
    let counted = common::counts_of(&t.server.endpoint(), stream).await.calls;
    assert_eq!(counted.put_record + counted.put_records, requests);
    assert!(counted.put_record >= 300, "{counted:?}");
    let mut seen = vec![0u32; 900];
    for r in common::read_all(&t.connection.admin, stream).await {
        seen[common::payload_seq(&r.data) as usize] += 1;
    }
    assert!(seen.iter().all(|&n| n == 1), "every record read back once");
}
