//! `kwb demo`: the list, every shipped scenario run headless to its end on the local server (its
//! limits on) with each stage's claims holding, a claim that fails, wrong names and files,
//! Ctrl-C, and a scenario stepped through in the workbench.

use crate::common;

use common::pty::Workbench;
use kwb::demo::SHIPPED;
use serde_json::Value;
use std::time::Duration;

/// Runs `kwb demo ARGS` in a data folder of its own; (exit code, stdout, stderr).
fn demo(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["demo"];
    all.extend(args);
    common::kwb_run(None, &all)
}

/// Runs a scenario headless with a fixed seed; its report, which must have passed.
fn passes(name: &str) -> Value {
    let (code, out, err) = demo(&[name, "--headless", "--json", "--seed", "7"]);
    let report: Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{name}: {e}: {out:?} {err}"));
    assert_eq!(code, 0, "{name}: {report:#}\n{err}");
    assert_eq!(report["scenario"], name);
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(
        (&report["failed"], &report["undelivered"]),
        (&0.into(), &0.into()),
        "{report}"
    );
    let stages = report["stages"].as_array().unwrap();
    let (_, scenario) = kwb::demo::find(name).unwrap();
    assert_eq!(stages.len(), scenario.stages.len());
    for (stage, spec) in stages.iter().zip(&scenario.stages) {
        assert_eq!(stage["name"], spec.name.as_str());
        assert_eq!(stage["passed"], true, "{stage:#}");
        for claim in stage["claims"].as_array().unwrap() {
            assert_eq!(claim["passed"], true, "{claim}");
        }
    }
    report
}

/// The claims of stage `i` as written, for checking that a scenario makes the claims it should.
fn claims(report: &Value, i: usize) -> Vec<String> {
    report["stages"][i]["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["claim"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_list_names_each_scenario_first_on_its_line() {
    let (code, out, _) = demo(&[]);
    assert_eq!(code, 0);
    let names: Vec<&str> = out.lines().map(|l| l.split(' ').next().unwrap()).collect();
    let shipped: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, shipped, "{out}");
    assert!(out.contains("hot-key             One fixed key makes one hot shard that throttles (4 shards, 2 stages, 18 s)"), "{out}");
    assert!(out.contains("(1 shard, "), "{out}");
    let (_, json, _) = demo(&["--json"]);
    let listed: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), SHIPPED.len());
    assert_eq!(listed[1]["name"], "hot-key");
    assert_eq!(listed[1]["stages"], 2);
}

#[test]
fn random_keys_spread_evenly() {
    let report = passes("random-keys");
    assert!(claims(&report, 0).contains(&"max_shard_share = 0.3".to_string()));
    assert_eq!(report["stages"][0]["shards"].as_object().unwrap().len(), 4);
}

#[test]
fn one_fixed_key_throttles_exactly_one_shard() {
    let report = passes("hot-key");
    assert!(claims(&report, 1).contains(&"throttled_shards = 1".to_string()));
    assert_eq!(report["stages"][1]["top_keys"][0]["key"], "tenant-42");
}

#[test]
fn explicit_hash_keys_place_records_on_chosen_shards() {
    let report = passes("explicit-hash-keys");
    let pinned = &report["stages"][1]["shards"];
    assert!(pinned["shardId-000000000002"]["records"].as_u64().unwrap() > 0);
    assert_eq!(pinned["shardId-000000000000"]["records"], 0);
}

#[test]
fn aggregation_lifts_a_shard_past_a_thousand_records_a_second() {
    let report = passes("aggregation");
    let plain = report["stages"][0]["records_per_sec"].as_f64().unwrap();
    let aggregated = report["stages"][1]["records_per_sec"].as_f64().unwrap();
    assert!(
        plain <= 1150.0 && aggregated >= 2700.0,
        "{plain} {aggregated}"
    );
}

#[test]
fn put_record_put_records_and_aggregation_side_by_side() {
    let report = passes("three-apis");
    let per_record = |what: &str| -> Vec<f64> {
        (0..3)
            .map(|i| report["stages"][i][what].as_f64().unwrap())
            .collect()
    };
    let (calls, kinesis) = (
        per_record("calls_per_record"),
        per_record("kinesis_records_per_record"),
    );
    assert!(calls[0] > 10.0 * calls[1], "{calls:?}");
    assert!(kinesis[1] > 10.0 * kinesis[2], "{kinesis:?}");
}

#[test]
fn throttled_records_are_retried_until_every_one_is_delivered() {
    let report = passes("throttling-retries");
    assert!(report["stages"][0]["throttled"].as_u64().unwrap() > 0);
    assert!(report["stages"][0]["retries"].as_u64().unwrap() > 0);
}

#[test]
fn splitting_a_hot_shard_while_sending_ends_its_throttling() {
    let report = passes("split-hot-shard");
    assert!(claims(&report, 2).contains(&"throttled_shards = 0".to_string()));
    assert_eq!(report["stages"][2]["open_shards"], 2);
}

#[test]
fn a_skewed_key_space_is_split_where_the_advice_says() {
    let report = passes("zipf-split");
    let advice = report["stages"][0]["advice"].as_str().unwrap();
    assert!(advice.contains("split it at hash key"), "{advice}");
    assert_eq!(report["stages"][2]["open_shards"], 5);
}

#[test]
fn a_claim_that_does_not_hold_fails_the_run_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("impossible.toml");
    std::fs::write(
        &file,
        "title = \"More than a shard takes\"\nshards = 1\n[[stage]]\nname = \"too fast\"\nexplain = \"e\"\nseconds = 3\nsize = 100\nrate = 200\napi = \"put-records\"\n[stage.expect]\nmin_records_per_sec = 5000\nno_failures = true\n",
    )
    .unwrap();
    let (code, out, err) = demo(&[file.to_str().unwrap(), "--headless"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("stage 1/1 too fast: FAILED"), "{out}");
    assert!(
        out.contains("FAIL min_records_per_sec = 5000 (measured "),
        "{out}"
    );
    assert!(out.contains("ok   no_failures = true"), "{out}");
    assert!(out.lines().last().unwrap().starts_with("FAILED: "), "{out}");
}

#[test]
fn wrong_names_files_and_flags_are_refused_clearly() {
    for (args, says) in [
        (
            vec!["nope"],
            "no scenario \"nope\": the scenarios are random-keys, hot-key",
        ),
        (
            vec!["/no/such.toml", "--headless"],
            "scenario file /no/such.toml:",
        ),
        (vec!["--headless"], "--headless runs a scenario: name one"),
        (
            vec!["hot-key", "--json"],
            "--json is the headless report's form: add --headless",
        ),
        (
            vec!["hot-key", "--headless", "--stream", "bad name"],
            "bad name",
        ),
    ] {
        let (code, out, err) = demo(&args);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "title = \"t\"\nshards = 1\n[[stage]]\nname = \"s\"\nexplain = \"e\"\nseconds = 2\nkey = \"zipf:0:1\"\n").unwrap();
    let (code, _, err) = demo(&[bad.to_str().unwrap(), "--headless"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("bad.toml: stage 1 (\"s\"): key \"zipf:0:1\""),
        "{err}"
    );
}

#[test]
fn ctrl_c_stops_a_headless_run_and_reports_it_interrupted() {
    let data = tempfile::tempdir().unwrap();
    let child = common::kwb_command(data.path())
        .args(["demo", "random-keys", "--headless", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once records are in the stream (polling it: there is no other signal).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let read = common::kwb_command(data.path())
            .args([
                "read",
                "--stream",
                "kwb-demo-random-keys",
                "--limit",
                "1",
                "--json",
            ])
            .output()
            .unwrap();
        if !read.stdout.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no records arrived");
        std::thread::sleep(Duration::from_millis(200));
    }
    common::signal(child.id(), "-INT");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (&report["interrupted"], &report["passed"]),
        (&true.into(), &false.into())
    );
    assert_eq!(report["undelivered"], 0, "{report}");
    assert!(report["delivered"].as_u64().unwrap() > 0, "{report}");
}

#[test]
fn the_workbench_runs_a_scenario_stage_by_stage() {
    let mut kwb = Workbench::start_with(&["demo", "hot-key"], &[]);
    kwb.wait_for("the first stage", Duration::from_secs(60), |s| {
        s.contains("hot-key: 1/2 random keys") && s.contains("sending 1500/s")
    });
    kwb.press("n");
    kwb.wait_for(
        "the second stage on one hot shard",
        Duration::from_secs(30),
        |s| {
            s.contains("hot-key: 2/2 one key")
                && s.contains("key fixed:tenant-42")
                && common::pty::table_rows(s)
                    .iter()
                    .filter(|r| r.limit >= 90)
                    .count()
                    == 1
        },
    );
    kwb.press("n");
    kwb.wait_for("the demo done", Duration::from_secs(10), |s| {
        s.contains("demo hot-key done") && s.contains("paused")
    });
    kwb.press("q");
    let status = kwb.exit_with_summary(Duration::from_secs(60));
    assert!(status.success(), "exit {status:?}:\n{}", kwb.contents());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_that_reshards_a_stream_elsewhere_needs_yes() {
    let stream = "demo-elsewhere";
    let t = common::target(stream, 1, true).await;
    let endpoint = t.server.endpoint();
    let (code, _, err) = tokio::task::spawn_blocking(move || {
        common::kwb_run(
            Some(&endpoint),
            &["demo", "split-hot-shard", "--stream", stream, "--headless"],
        )
    })
    .await
    .unwrap();
    assert_ne!(code, 0);
    assert!(
        err.contains("scenario split-hot-shard reshards its stream (stage 2 \"split\": split)")
            && err.contains("add --yes to let it"),
        "{err}"
    );
    let map = kwb::kinesis::shard_map::list_shards(&t.connection.admin, stream)
        .await
        .unwrap();
    assert_eq!(map.open_count(), 1, "nothing was resharded");
}
