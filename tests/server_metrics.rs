//! The embedded server's own shard metrics: what clients put, counted at the server per shard
//! and second, read back over its loopback endpoint.

use crate::common;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use common::counts_of;
use kwb::kinesis::server_metrics::{fetch, ServerSnapshot};
use std::collections::BTreeMap;

/// Per shard: records accepted, their bytes (key + data), records throttled.
type Counts = BTreeMap<String, (u64, u64, u64)>;

fn totals(snapshot: &ServerSnapshot) -> Counts {
    snapshot
        .shards
        .iter()
        .map(|(id, s)| {
            let sum = |v: &[u64]| v.iter().sum::<u64>();
            (
                id.clone(),
                (
                    sum(&s.incoming_records),
                    sum(&s.incoming_bytes),
                    sum(&s.write_throttled),
                ),
            )
        })
        .filter(|(_, c)| *c != (0, 0, 0))
        .collect()
}

#[tokio::test]
async fn puts_and_throttles_are_counted_on_their_shards() {
    let t = common::target("counted", 4, true).await;
    let client = &t.connection.producer;
    let map = kwb::kinesis::shard_map::list_shards(client, "counted")
        .await
        .unwrap();
    let mut expected = Counts::new();
    // Spread keys, then five full batches on one key at once: the shard takes 1,000 records a
    // second (2,000 if the burst straddles a second) and throttles the rest.
    let batches: Vec<Vec<(String, Vec<u8>)>> = std::iter::once(
        (0..300)
            .map(|i| (format!("key-{i}"), vec![b'x'; i % 50]))
            .collect(),
    )
    .chain((0..5).map(|_| {
        (0..500)
            .map(|_| ("hot".to_string(), vec![b'y'; 10]))
            .collect()
    }))
    .collect();
    for batch in &batches {
        let entries = batch
            .iter()
            .map(|(key, data)| {
                PutRecordsRequestEntry::builder()
                    .partition_key(key)
                    .data(Blob::new(data.clone()))
                    .build()
                    .unwrap()
            })
            .collect();
        let answer = client
            .put_records()
            .stream_name("counted")
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        for ((key, data), record) in batch.iter().zip(answer.records()) {
            let predicted = map
                .shard_for(kwb::kinesis::hash_key::HashKey::of_partition_key(key))
                .unwrap()
                .shard_id
                .clone();
            let counts = expected.entry(predicted.clone()).or_default();
            match record.error_code() {
                None => {
                    assert_eq!(record.shard_id(), Some(predicted.as_str()));
                    counts.0 += 1;
                    counts.1 += (key.len() + data.len()) as u64;
                }
                Some("ProvisionedThroughputExceededException") => counts.2 += 1,
                Some(other) => panic!("unexpected {other}"),
            }
        }
    }
    // A single PutRecord counts too.
    let one = client
        .put_record()
        .stream_name("counted")
        .partition_key("single")
        .data(Blob::new(b"12345".to_vec()))
        .send()
        .await
        .unwrap();
    let counts = expected.entry(one.shard_id().to_string()).or_default();
    counts.0 += 1;
    counts.1 += 6 + 5;
    let throttled: u64 = expected.values().map(|c| c.2).sum();
    assert!(throttled >= 400, "the burst was throttled ({throttled})");

    let seen = counts_of(&t.server.endpoint(), "counted").await;
    assert_eq!(seen.stream, "counted");
    assert_eq!(seen.seconds, 60);
    assert_eq!(totals(&seen), expected);
    let other = counts_of(&t.server.endpoint(), "another").await;
    assert!(other.shards.is_empty());

    // The read side: one GetRecords call on the hot shard, counted on that shard.
    let hot = map
        .shard_for(kwb::kinesis::hash_key::HashKey::of_partition_key("hot"))
        .unwrap()
        .shard_id
        .clone();
    let got = client
        .get_records()
        .shard_iterator(common::trim_horizon_iterator(client, "counted", &hot).await)
        .limit(10_000)
        .send()
        .await
        .unwrap();
    let bytes: u64 = got
        .records()
        .iter()
        .map(|r| (r.partition_key().map_or(0, str::len) + r.data().as_ref().len()) as u64)
        .sum();
    assert!(!got.records().is_empty());
    let seen = counts_of(&t.server.endpoint(), "counted").await;
    let read = &seen.shards[&hot];
    assert_eq!(
        read.outgoing_records.iter().sum::<u64>(),
        got.records().len() as u64
    );
    assert_eq!(read.outgoing_bytes.iter().sum::<u64>(), bytes);
    let elsewhere: u64 = seen
        .shards
        .iter()
        .filter(|(id, _)| **id != hot)
        .map(|(_, s)| s.outgoing_records.iter().sum::<u64>())
        .sum();
    assert_eq!(elsewhere, 0);
}

#[tokio::test]
async fn a_metrics_request_without_a_stream_is_refused_with_the_reason() {
    let server = common::server(true).await;
    let error = fetch(
        &server.endpoint(),
        "",
        10,
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("stream=NAME"), "{error}");
}

/// boto3 (a client independent of kwb) writes to an embedded server, spread and then hot enough
/// to be throttled; a separate `kwb metrics` process reads the server's counts over loopback.
/// They must equal, shard by shard, what boto3's answers said. Needs `KWB_PYTHON` with boto3
/// (scripts/test.sh installs it and runs this test; a plain `cargo test` counts it as ignored).
#[tokio::test]
#[ignore = "needs KWB_PYTHON with boto3: scripts/test.sh installs it and runs this test"]
async fn kwb_metrics_shows_what_another_client_wrote_throttles_included() {
    let python = std::env::var("KWB_PYTHON")
        .expect("KWB_PYTHON is not set: run this test through scripts/test.sh, which installs it");
    let t = common::target("boto3", 4, true).await;
    let endpoint = t.server.endpoint();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/boto3_writer.py");
    let written = tokio::process::Command::new(&python)
        .args([script, &endpoint, "boto3"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("KWB_PYTHON={python} could not run: {e}"));
    assert!(
        written.status.success(),
        "boto3 writer: {}",
        String::from_utf8_lossy(&written.stderr)
    );
    let written: BTreeMap<String, (u64, u64, u64)> =
        serde_json::from_slice(&written.stdout).expect("the writer's JSON");
    assert!(
        written.values().map(|c| c.2).sum::<u64>() >= 400,
        "{written:?}"
    );

    let data = tempfile::tempdir().unwrap();
    // A process of its own, awaited so that this test's runtime keeps serving it.
    let output = tokio::process::Command::from(common::kwb_command(data.path()))
        .args(["--endpoint-url", &endpoint, "metrics", "--stream", "boto3"])
        .args(["--source", "server", "--minutes", "1", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one object");
    assert_eq!(seen["stream"], "boto3");
    assert_eq!(seen["source"], "server");
    let shards = seen["shards"].as_object().unwrap();
    assert_eq!(shards.len(), 4, "every shard is listed: {seen}");
    for (id, counts) in shards {
        let expected = written.get(id).copied().unwrap_or_default();
        let got = (
            counts["incoming_records"].as_u64().unwrap(),
            counts["incoming_bytes"].as_u64().unwrap(),
            counts["write_throttled"].as_u64().unwrap(),
        );
        assert_eq!(got, expected, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kwb_metrics_gives_up_on_a_server_whose_counts_never_come() {
    let t = common::proxied(
        "silent",
        1,
        1,
        0.0,
        &[common::proxy::Fault::Pass],
        std::time::Duration::ZERO,
    )
    .await;
    t.proxy.hang(Some("GET /kwb/metrics"));
    let endpoint = t.proxy.endpoint();
    let data = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        common::kwb_command(data.path())
            .args(["--endpoint-url", &endpoint, "--api-timeout", "1"])
            .args([
                "metrics", "--stream", "silent", "--source", "server", "--json",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("no answer within 1000 ms"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_record_sends_one_call_per_record_read_back_exactly_and_counted_by_the_server() {
    let stream = "one-call-each";
    let t = common::target(stream, 4, true).await;
    let endpoint = t.server.endpoint();
    let put = {
        let endpoint = endpoint.clone();
        tokio::task::spawn_blocking(move || {
            let args = [
                "put",
                "--stream",
                stream,
                "--api",
                "put-record",
                "--count",
                "3000",
                "--key",
                "fixed:one",
                "--seed",
                "5",
                "--rate-limit",
                "200",
                "--json",
            ];
            common::kwb_at(&endpoint, &args)
        })
        .await
        .unwrap()
    };
    let put: serde_json::Value = serde_json::from_str(put.trim()).unwrap();
    assert_eq!(
        (&put["ok"], &put["kinesis_records"], &put["api"]),
        (&3000.into(), &3000.into(), &"put-record".into()),
        "{put}"
    );
    // Twice the shard's limit on one key: throttled calls are sent again, one record each.
    let calls = put["api_calls"].as_u64().unwrap();
    assert_eq!(calls, 3000 + put["retries"].as_u64().unwrap(), "{put}");
    assert!(
        put["throttled"].as_u64().unwrap() > 0,
        "the limit was never met: {put}"
    );

    let read = common::read_all(&t.connection.admin, stream).await;
    let mut seen = vec![0u32; 3000];
    for r in &read {
        assert!(!r.aggregated);
        seen[common::payload_seq(&r.data) as usize] += 1;
    }
    assert!(seen.iter().all(|&n| n == 1), "every record read back once");

    let counted = counts_of(&endpoint, stream).await.calls;
    assert_eq!((counted.put_record, counted.put_records), (calls, 0));
}
