//! Streams as AWS has them now: an on-demand stream (its mode shown, resharding by hand refused,
//! the producer told), and a stream that places records itself (AUTO) or takes larger records,
//! as the service describes such a stream (the local server has neither, so the test proxy adds
//! the fields to its DescribeStreamSummary answer): kwb says so, spreads records in turn,
//! delivers each exactly once, and takes the stream's record limit.

use crate::common;

use serde_json::Value;
use std::time::Duration;

/// kwb against `endpoint`; (exit code, stdout, stderr).
fn kwb(endpoint: &str, args: &[&str]) -> (i32, String, String) {
    common::kwb_run(Some(endpoint), args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_demand_stream_is_shown_and_never_resharded_by_hand() {
    let stream = "modes-on-demand";
    let t = common::target(stream, 2, true).await;
    let arn = kwb::kinesis::admin::describe(&t.connection.admin, stream)
        .await
        .unwrap()
        .arn;
    t.connection
        .admin
        .update_stream_mode()
        .stream_arn(arn)
        .stream_mode_details(
            aws_sdk_kinesis::types::StreamModeDetails::builder()
                .stream_mode(aws_sdk_kinesis::types::StreamMode::OnDemand)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    kwb::kinesis::admin::wait_active(&t.connection.admin, stream, Duration::from_secs(30))
        .await
        .unwrap();
    let endpoint = t.server.endpoint();
    let stream_name = stream.to_string();
    tokio::task::spawn_blocking(move || {
        let (code, out, err) = kwb(&endpoint, &["streams", "describe", &stream_name]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("mode              ON_DEMAND"), "{out}");
        assert!(out.contains("write capacity    "), "{out}");
        assert!(
            out.contains("record placement  USER_PARTITION_KEY"),
            "{out}"
        );
        for args in [
            vec![
                "streams",
                "split",
                &stream_name,
                "shardId-000000000000",
                "--yes",
            ],
            vec!["streams", "scale", &stream_name, "4", "--yes"],
        ] {
            let (code, _, err) = kwb(&endpoint, &args);
            assert_ne!(code, 0, "{args:?}");
            assert!(
                err.contains("is on-demand: Kinesis adds and removes its shards itself"),
                "{err}"
            );
        }
        let (code, out, err) = kwb(
            &endpoint,
            &["put", "--stream", &stream_name, "--count", "200", "--json"],
        );
        assert_eq!(code, 0, "{err}");
        let summary: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(summary["stream_facts"]["on_demand"], true, "{summary}");
        assert_eq!(summary["ok"], 200);
    })
    .await
    .unwrap();
    let map = kwb::kinesis::shard_map::list_shards(&t.connection.admin, stream)
        .await
        .unwrap();
    assert_eq!(map.open_count(), 2, "nothing was resharded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_places_records_itself_gets_each_record_once() {
    let stream = "modes-auto";
    let t = common::proxied(
        stream,
        4,
        1,
        0.0,
        &[common::proxy::Fault::Pass],
        Duration::ZERO,
    )
    .await;
    *t.proxy.describe_with.lock().unwrap() = Some(serde_json::json!({
        "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
        "RecordDistributionStrategy": "AUTO",
        "MaxRecordSizeInKiB": 2048,
    }));
    let endpoint = t.proxy.endpoint();
    let stream_name = stream.to_string();
    let summary = tokio::task::spawn_blocking(move || {
        // Aggregated: kwb spreads the records over the four shards in turn and its aggregates
        // carry no hash key, so they land where the server puts them, mostly on a shard that
        // does not own their records' keys: still delivered, once.
        let (code, _, err) = kwb(
            &endpoint,
            &["demo", "split-hot-shard", "--stream", &stream_name, "--headless", "--yes"],
        );
        assert_ne!(code, 0);
        assert!(
            err.contains(&format!(
                "scenario split-hot-shard splits or scales its stream, and stream {stream_name} is on-demand"
            )),
            "{err}"
        );
        let (code, out, err) = kwb(
            &endpoint,
            &[
                "put",
                "--stream",
                &stream_name,
                "--count",
                "3000",
                "--rate",
                "3000",
                "--json",
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("places records itself (AUTO record distribution)"),
            "{err}"
        );
        let summary: Value = serde_json::from_str(out.trim()).unwrap();
        // Larger records pass kwb's own check against the stream's 2 MiB (this server keeps to
        // 1 MiB and refuses them itself).
        let (_, _, big) = kwb(
            &endpoint,
            &[
                "put",
                "--stream",
                &stream_name,
                "--size",
                "1500000",
                "--count",
                "1",
                "--no-aggregate",
                "--record-ttl",
                "3",
            ],
        );
        assert!(!big.contains("over the record limit"), "{big}");
        summary
    })
    .await
    .unwrap();
    assert_eq!(
        (&summary["ok"], &summary["failed"]),
        (&3000.into(), &0.into()),
        "{summary}"
    );
    assert_eq!(summary["stream_facts"]["auto_distribution"], true);
    assert_eq!(summary["stream_facts"]["max_record_bytes"], 2048 * 1024);
    let mut seen = vec![0u32; 3000];
    // Read as the stream describes itself: placed by the stream, no aggregate is dropped for
    // landing outside its records' hash range.
    for r in common::read_all(&t.via_proxy.admin, stream).await {
        seen[common::payload_seq(&r.data) as usize] += 1;
    }
    let counts = |n: u32| seen.iter().filter(|&&c| c == n).count();
    assert!(
        seen.iter().all(|&n| n == 1),
        "every record read back once: {} missing, {} twice, {} more often",
        counts(0),
        counts(2),
        seen.iter().filter(|&&c| c > 2).count()
    );
}
