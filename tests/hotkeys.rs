//! `kwb hotkeys` end to end on the embedded server with its limits on: records sent by `kwb put`,
//! read back, the hot shard's keys named with their shares, and the advice its numbers call for.

use crate::common;

use kwb::kinesis::shard_map::list_shards;
use serde_json::Value;

/// What `kwb put --hotkeys --json` and then `kwb hotkeys --json` printed, and the stream's
/// shards (id, starting and ending hash key).
struct Run {
    target: common::TestTarget,
    put: Value,
    report: Value,
    shards: Vec<(String, u128, u128)>,
}

/// Sends with `put_args` into a new stream of `shards` shards, then reads its hot keys.
async fn put_then_hotkeys(stream: &str, shards: u32, put_args: &[&str]) -> Run {
    let t = common::target(stream, shards, true).await;
    let endpoint = t.server.endpoint();
    let (stream_name, put_args) = (
        stream.to_string(),
        put_args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    );
    let (put, report) = tokio::task::spawn_blocking(move || {
        let mut args = vec!["put", "--stream", &stream_name, "--json", "--hotkeys"];
        args.extend(put_args.iter().map(String::as_str));
        let put: Value = serde_json::from_str(common::kwb_at(&endpoint, &args).trim()).unwrap();
        assert_eq!(put["failed"], 0, "{put}");
        let report = common::kwb_at(&endpoint, &["hotkeys", "--stream", &stream_name, "--json"]);
        (put, serde_json::from_str(report.trim()).unwrap())
    })
    .await
    .unwrap();
    let map = list_shards(&t.connection.admin, stream).await.unwrap();
    let shards = map
        .shards()
        .iter()
        .map(|s| (s.shard_id.clone(), s.starting_hash_key, s.ending_hash_key))
        .collect();
    Run {
        target: t,
        put,
        report,
        shards,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_fixed_key_is_named_on_the_one_hot_shard_and_splitting_is_not_advised() {
    let Run {
        put,
        report,
        shards,
        ..
    } = put_then_hotkeys(
        "hotkeys-fixed",
        4,
        &[
            "--key",
            "fixed:tenant-42",
            "--no-aggregate",
            "--count",
            "3000",
            "--rate",
            "2000",
        ],
    )
    .await;
    assert_eq!(report["stream"], "hotkeys-fixed");
    assert_eq!(report["records"], 3000);
    let mut hot = Vec::new();
    for (id, _, _) in &shards {
        let shard = &report["shards"][id];
        let advice = shard["advice"].as_str().unwrap();
        if shard["records"] == 0 {
            assert!(
                advice.starts_with("not hot: 0 % of its records limit"),
                "{advice}"
            );
            assert_eq!(shard["top_keys"], serde_json::json!([]));
            continue;
        }
        hot.push(id);
        assert_eq!(shard["records"], 3000);
        let top = &shard["top_keys"][0];
        assert_eq!(
            (&top["key"], &top["records"], &top["share"]),
            (
                &Value::from("tenant-42"),
                &Value::from(3000),
                &Value::from(1.0)
            )
        );
        assert_eq!(shard["top_keys"].as_array().unwrap().len(), 1);
        // No split can divide one key.
        assert_eq!(shard["split_at"], Value::Null);
        // 3,000 unaggregated records through a shard that takes 1,000 a second: at the limit
        // in its busiest second (by arrival: the server's own windows may straddle two).
        let records_use = shard["peak_records_limit_use"].as_f64().unwrap();
        assert!((0.8..=1.3).contains(&records_use), "{records_use}");
        assert!(
            advice.contains("key \"tenant-42\" carries 100 % of its records, and splitting cannot spread one key"),
            "{advice}"
        );
    }
    assert_eq!(hot.len(), 1, "one shard holds the fixed key");
    // The put run counted the same keys on the same shard, over its own sending time.
    let counted = &put["hot_keys"]["shards"][hot[0]];
    assert_eq!(counted["top_keys"][0]["key"], "tenant-42");
    assert_eq!(counted["top_keys"][0]["records"], 3000);
    assert_eq!(counted["kinesis_records"], 3000);
    assert!(counted["advice"]
        .as_str()
        .unwrap()
        .contains("carries 100 % of its records"));
    assert_eq!(put["hot_keys"]["records"], 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spread_keys_over_one_shard_get_a_shard_more_and_a_split_point_in_the_middle_that_works() {
    let Run {
        target,
        put,
        report,
        shards,
    } = put_then_hotkeys(
        "hotkeys-spread",
        1,
        &[
            "--key", "random", "--size", "1000", "--count", "3500", "--seed", "7",
        ],
    )
    .await;
    let (id, start, end) = &shards[0];
    let shard = &report["shards"][id];
    assert_eq!(shard["records"], 3500);
    // Aggregated: the bytes limit binds, and no key carries more than one record.
    assert!(shard["kinesis_records"].as_u64().unwrap() < 3500 / 10);
    // At the limit in its busiest second (by arrival: the server's own windows may straddle two).
    let bytes_use = shard["peak_bytes_limit_use"].as_f64().unwrap();
    assert!((0.8..=1.3).contains(&bytes_use), "{bytes_use}");
    assert_eq!(shard["top_keys"].as_array().unwrap().len(), 5);
    assert_eq!(shard["top_keys"][0]["records"], 1);
    let advice = shard["advice"].as_str().unwrap();
    assert!(
        advice.contains("add shards, to 2 at least (kwb streams scale hotkeys-spread 2)"),
        "{advice}"
    );
    // Random keys spread evenly: the traffic halves near the middle of the range.
    let at: u128 = shard["split_at"].as_str().unwrap().parse().unwrap();
    let middle = start + (end - start) / 2;
    let off = at.abs_diff(middle) as f64 / (end - start) as f64;
    assert!(
        off < 0.05,
        "split at {at}, {off} of the range from the middle"
    );
    let counted = &put["hot_keys"]["shards"][id];
    assert_eq!(counted["records"], 3500);
    assert_eq!(counted["kinesis_records"], shard["kinesis_records"]);

    // The advice carried out: split at the hash key it gave.
    let (endpoint, shard) = (target.server.endpoint(), id.clone());
    let split = tokio::task::spawn_blocking(move || {
        let at = at.to_string();
        let args = [
            "streams",
            "split",
            "hotkeys-spread",
            &shard,
            "--at",
            &at,
            "--yes",
            "--json",
        ];
        common::kwb_at(&endpoint, &args)
    })
    .await
    .unwrap();
    let split: Value = serde_json::from_str(split.trim()).unwrap();
    assert_eq!(split["open_shards"].as_array().unwrap().len(), 2, "{split}");
    let map = list_shards(&target.connection.admin, "hotkeys-spread")
        .await
        .unwrap();
    let starts: Vec<u128> = map.open_shards().map(|s| s.starting_hash_key).collect();
    assert_eq!(starts, [*start, at]);
}

#[test]
fn bad_input_names_the_flag_and_its_range() {
    let data = tempfile::tempdir().unwrap();
    for top in ["0", "-1", "1025", "NaN", ""] {
        let output = common::kwb_command(data.path())
            .args([
                "--endpoint-url",
                "http://127.0.0.1:9",
                "hotkeys",
                "--top",
                top,
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "--top {top}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--top"), "--top {top}: {stderr}");
    }
}
