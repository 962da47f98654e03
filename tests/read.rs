//! `kwb read` returns exactly what `kwb put` wrote: deaggregated, every record once, in per-shard
//! order, as JSON lines and as text.

use crate::common;

use base64::Engine;
use kwb::compose::payload::Payloads;
use std::collections::HashMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_returns_what_put_wrote() {
    let t = common::target("readback", 3, true).await;
    let endpoint = t.server.endpoint();
    let (put, json_lines, text) = tokio::task::spawn_blocking(move || {
        let put = common::kwb_at(
            &endpoint,
            &[
                "put", "--stream", "readback", "--count", "3000", "--key", "seq", "--seed", "42",
                "--json",
            ],
        );
        let json_lines = common::kwb_at(&endpoint, &["read", "--stream", "readback", "--json"]);
        let text = common::kwb_at(
            &endpoint,
            &["tail", "--stream", "readback", "--limit", "10"],
        );
        (put, json_lines, text)
    })
    .await
    .unwrap();
    let summary: serde_json::Value = serde_json::from_str(put.trim()).unwrap();
    assert_eq!(summary["ok"], 3000);

    let payloads = Payloads::new(100, 42);
    let mut seen = vec![false; 3000];
    // Sequence numbers are decimals longer than any integer type: compare by length, then text.
    let mut last_in_shard: HashMap<String, (usize, String, u64)> = HashMap::new();
    let lines: Vec<&str> = json_lines.lines().collect();
    assert_eq!(lines.len(), 3000);
    for line in lines {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in [
            "shard_id",
            "partition_key",
            "sequence_number",
            "sub_sequence_number",
            "arrival_time",
            "data",
        ] {
            assert!(r.get(key).is_some(), "{key} missing: {line}");
        }
        let data = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        let seq: usize = r["partition_key"].as_str().unwrap().parse().unwrap();
        assert_eq!(data, payloads.payload(seq as u64), "record {seq}");
        assert!(!seen[seq], "record {seq} read twice");
        seen[seq] = true;
        let sequence = r["sequence_number"].as_str().unwrap().to_string();
        let position = (
            sequence.len(),
            sequence,
            r["sub_sequence_number"].as_u64().unwrap(),
        );
        let shard = r["shard_id"].as_str().unwrap().to_string();
        if let Some(previous) = last_in_shard.get(&shard) {
            assert!(*previous < position, "out of order within {shard}");
        }
        last_in_shard.insert(shard, position);
    }
    assert!(seen.iter().all(|s| *s));
    assert_eq!(last_in_shard.len(), 3);

    let text_lines: Vec<&str> = text.lines().collect();
    assert_eq!(text_lines.len(), 10);
    assert!(text_lines[0].starts_with("shardId-"), "{}", text_lines[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_keeps_reading_and_follows_a_split_into_its_children() {
    use kwb::kinesis::reader::{read, ReadOptions, StartAt};
    use kwb::producer::config::ProducerConfig;
    use kwb::producer::record::NewRecord;
    use std::collections::HashSet;
    use std::time::Duration;

    let (t, producer) = common::producer("follow", 2, ProducerConfig::default()).await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(100);
    let options = ReadOptions {
        stream: "follow".into(),
        shard: None,
        start: StartAt::TrimHorizon,
        follow: true,
        efo: false,
    };
    let client = t.connection.admin.clone();
    let reader = tokio::spawn(async move { read(&client, &options, tx).await });
    let put = |from: u32, to: u32| {
        let producer = &producer;
        async move {
            let mut pending = Vec::new();
            for i in from..to {
                pending.push(
                    producer
                        .put(NewRecord::new(format!("k{i}"), format!("{i}")))
                        .await
                        .unwrap(),
                );
            }
            for outcome in pending {
                assert!(outcome.await.is_delivered());
            }
        }
    };
    put(0, 100).await;
    let mut got = HashSet::new();
    while got.len() < 100 {
        got.insert(rx.recv().await.unwrap().partition_key);
    }
    let map = common::split_first_shard(&t.connection.admin, "follow").await;
    let parent = map.shards()[0].clone();
    put(100, 300).await;
    let mut children = HashSet::new();
    // An aggregate that landed on one child before the producer saw the split may also hold
    // records of the other child's range (they are retried there), so wait for both children,
    // not just for every key.
    while got.len() < 300 || children.len() < 2 {
        let record = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("follow stopped delivering")
            .unwrap();
        if record.shard_id != parent.shard_id && record.shard_id != map.shards()[1].shard_id {
            children.insert(record.shard_id.clone());
        }
        got.insert(record.partition_key);
    }
    assert_eq!(children.len(), 2, "both children of the split were read");
    drop(rx);
    reader.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhanced_fan_out_reads_the_same_records_and_deregisters_its_consumer() {
    let t = common::target("fanout", 2, true).await;
    let endpoint = t.server.endpoint();
    let (polled, subscribed) = tokio::task::spawn_blocking(move || {
        common::kwb_at(
            &endpoint,
            &[
                "put", "--stream", "fanout", "--count", "1000", "--key", "seq",
            ],
        );
        let polled = common::kwb_at(&endpoint, &["read", "--stream", "fanout", "--json"]);
        let subscribed = common::kwb_at(
            &endpoint,
            &["read", "--stream", "fanout", "--json", "--efo"],
        );
        (polled, subscribed)
    })
    .await
    .unwrap();
    let records = |text: &str| {
        let mut lines: Vec<(String, String, u64)> = text
            .lines()
            .map(|l| {
                let r: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    r["sequence_number"].as_str().unwrap().to_string(),
                    r["partition_key"].as_str().unwrap().to_string(),
                    r["sub_sequence_number"].as_u64().unwrap(),
                )
            })
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(records(&polled).len(), 1000);
    assert_eq!(records(&subscribed), records(&polled));
    let arn = t
        .connection
        .admin
        .describe_stream_summary()
        .stream_name("fanout")
        .send()
        .await
        .unwrap()
        .stream_description_summary()
        .unwrap()
        .stream_arn()
        .to_string();
    let consumers = t
        .connection
        .admin
        .list_stream_consumers()
        .stream_arn(arn)
        .send()
        .await
        .unwrap();
    // Deregistration takes effect at once or after a DELETING phase.
    assert!(
        consumers
            .consumers()
            .iter()
            .all(|c| c.consumer_status().as_str() == "DELETING"),
        "consumer left registered: {:?}",
        consumers.consumers()
    );
}

/// Runs kwb against `endpoint`; it must succeed. Returns stdout and stderr.
fn kwb_with_stderr(endpoint: &str, args: &[&str]) -> (String, String) {
    let (code, out, err) = common::kwb_run(Some(endpoint), args);
    assert_eq!(code, 0, "{args:?}: {err}");
    (out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_leaves_out_what_the_kcl_drops_and_says_how_many() {
    use kwb::kinesis::hash_key::HashKey;
    use kwb::kinesis::kpl_format::{Aggregator, AGGREGATE_PARTITION_KEY};
    use kwb::kinesis::shard_map::list_shards;

    let stream = "straddle";
    let t = common::target(stream, 2, false).await;
    let client = &t.connection.admin;
    let map = list_shards(client, stream).await.unwrap();
    let on = |shard: usize| {
        (0..)
            .map(|i| format!("key-{i}"))
            .find(|k| map.index_for(HashKey::of_partition_key(k)) == Some(shard))
            .unwrap()
    };
    let (first, second) = (on(0), on(1));
    let put = |key: &str, ehk: Option<HashKey>, data: Vec<u8>| {
        client
            .put_record()
            .stream_name(stream)
            .partition_key(key)
            .set_explicit_hash_key(ehk.map(|k| k.to_string()))
            .data(aws_sdk_kinesis::primitives::Blob::new(data))
            .send()
    };
    // An aggregate pinned to shard 0 that also holds a record of shard 1: the KCL drops both.
    let mut straddling = Aggregator::new();
    straddling.add(&first, None, b"in range");
    straddling.add(&second, None, b"out of range");
    let pin = HashKey::of_partition_key(&first);
    put(AGGREGATE_PARTITION_KEY, Some(pin), straddling.finish())
        .await
        .unwrap();
    // An aggregate whose records all belong to shard 0, and a plain record: both are read.
    let mut fitting = Aggregator::new();
    fitting.add(&first, None, b"kept 1");
    fitting.add(&first, Some(pin), b"kept 2");
    put(AGGREGATE_PARTITION_KEY, Some(pin), fitting.finish())
        .await
        .unwrap();
    put(&second, None, b"plain".to_vec()).await.unwrap();

    let endpoint = t.server.endpoint();
    let (default, marked) = tokio::task::spawn_blocking(move || {
        (
            kwb_with_stderr(&endpoint, &["read", "--stream", stream, "--json"]),
            kwb_with_stderr(
                &endpoint,
                &["read", "--stream", stream, "--json", "--show-dropped"],
            ),
        )
    })
    .await
    .unwrap();
    let data_of = |out: &str| -> Vec<(String, bool)> {
        out.lines()
            .map(|l| {
                let r: serde_json::Value = serde_json::from_str(l).unwrap();
                let data = base64::engine::general_purpose::STANDARD
                    .decode(r["data"].as_str().unwrap())
                    .unwrap();
                (
                    String::from_utf8(data).unwrap(),
                    r["kcl_drops"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let (out, err) = default;
    let mut shown = data_of(&out);
    shown.sort();
    assert_eq!(
        shown,
        [
            ("kept 1".to_string(), false),
            ("kept 2".to_string(), false),
            ("plain".to_string(), false)
        ]
    );
    assert!(err.contains("2 records not shown"), "{err}");
    let (out, err) = marked;
    let mut shown = data_of(&out);
    shown.sort();
    assert_eq!(shown.len(), 5);
    assert!(shown.contains(&("in range".to_string(), true)));
    assert!(shown.contains(&("out of range".to_string(), true)));
    assert!(!err.contains("not shown"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_of_a_large_hot_key_put_reads_back() {
    use kwb::producer::config::ProducerConfig;
    use kwb::producer::record::NewRecord;
    // 150,000 records of 100 bytes on one key: 3,000 aggregates of 50 KiB in one shard, more
    // than one GetRecords answer may hold. Limits off so that it is quick.
    let stream = "hot-read";
    let t = common::target(stream, 4, false).await;
    let producer = kwb::producer::Producer::start(
        t.connection.producer.clone(),
        stream,
        ProducerConfig::default(),
    )
    .await
    .unwrap();
    let payloads = Payloads::new(100, 5);
    let records = 150_000u64;
    let mut pending = Vec::new();
    for seq in 0..records {
        let record = NewRecord::new("hot", payloads.payload(seq));
        pending.push(producer.put(record).await.unwrap());
    }
    for p in pending {
        assert!(p.await.is_delivered());
    }
    producer.shutdown(std::time::Duration::from_secs(1)).await;
    // Another client asking for many aggregates at once gets them: the embedded server's
    // counting layer passes an answer of over 16 MiB on unchanged (it used to refuse it).
    let client = &t.connection.admin;
    let shard = kwb::kinesis::shard_map::list_shards(client, stream)
        .await
        .unwrap()
        .shard_for(kwb::kinesis::hash_key::HashKey::of_partition_key("hot"))
        .unwrap()
        .shard_id
        .clone();
    let page = client
        .get_records()
        .shard_iterator(common::trim_horizon_iterator(client, stream, &shard).await)
        .limit(400)
        .send()
        .await
        .expect("an answer of hundreds of aggregates");
    // Base64 in the JSON answer: over 12 MiB of data is an answer over 16 MiB.
    let bytes: usize = page.records().iter().map(|r| r.data().as_ref().len()).sum();
    assert!(
        bytes > 16 * 1024 * 1024 * 3 / 4,
        "{bytes} bytes: not over the old limit"
    );
    let read = common::read_all(client, stream).await;
    assert_eq!(read.len() as u64, records);
    let mut seen = vec![false; records as usize];
    for r in &read {
        seen[common::payload_seq(&r.data) as usize] = true;
    }
    assert!(seen.iter().all(|s| *s), "a record is missing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_a_time_reads_only_what_arrived_since_even_on_quiet_shards() {
    let t = common::target("since", 4, true).await;
    let endpoint = t.server.endpoint();
    let (after_first, since) = tokio::task::spawn_blocking(move || {
        let put = |seed: &str| {
            let args = ["put", "--stream", "since", "--count", "200", "--seed", seed];
            common::kwb_at(&endpoint, &args);
        };
        put("1");
        // The next second: the embedded server gives arrival times in whole seconds, and reads
        // from a time keep the records of that second.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let read = |from: &str| {
            let args = ["read", "--stream", "since", "--from", from, "--json"];
            common::kwb_at(&endpoint, &args).lines().count()
        };
        let after_first = read(&time);
        // Only the second run's records, on every shard that got some; quiet shards nothing.
        put("2");
        (after_first, read(&time))
    })
    .await
    .unwrap();
    assert_eq!(after_first, 0, "nothing arrived since");
    assert_eq!(since, 200);
}
