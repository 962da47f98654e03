//! The `kwb` binary end to end: the JSON summary contract, the shard map, and clear errors (never
//! a panic) for bad input and unreachable targets.

use crate::common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Output, Stdio};

/// Runs kwb with its local data in `data`.
fn kwb_in(data: &Path, args: &[&str]) -> Output {
    common::kwb_command(data)
        .args(args)
        .output()
        .expect("run kwb")
}

/// Runs kwb with fresh local data of its own.
fn kwb(args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    kwb_in(data.path(), args)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// Runs kwb expecting failure with a message containing each of `needles`.
fn fails_with(args: &[&str], needles: &[&str]) {
    let output = kwb(args);
    let err = stderr(&output);
    assert!(!output.status.success(), "{args:?} succeeded");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{args:?}: {needle:?} not in {err:?}");
    }
}

#[test]
fn put_json_prints_exactly_one_object_with_the_summary_keys() {
    let output = kwb(&["put", "--count", "2000", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    for key in [
        "records",
        "ok",
        "failed",
        "throttled",
        "retries",
        "elapsed_s",
        "sending_s",
        "draining_s",
        "per_shard",
        "latency_ms",
    ] {
        assert!(summary.get(key).is_some(), "missing {key}: {stdout}");
    }
    assert_eq!(summary["records"], 2000);
    assert_eq!(summary["ok"], 2000);
    assert_eq!(summary["failed"], 0);
    let per_shard = summary["per_shard"].as_object().unwrap();
    assert_eq!(per_shard.len(), 4);
    assert!(per_shard.keys().all(|k| k.starts_with("shardId-")));
    assert_eq!(
        per_shard.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        2000
    );
    assert!(summary["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert!(
        summary["latency_ms"]["p99"].as_f64().unwrap()
            >= summary["latency_ms"]["p50"].as_f64().unwrap()
    );
}

#[test]
fn a_fixed_key_lands_every_record_on_one_shard() {
    let output = kwb(&["put", "--count", "500", "--key", "fixed:hot", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let counts: Vec<u64> = summary["per_shard"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(counts.iter().filter(|&&n| n > 0).count(), 1, "{counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), 500);
}

#[test]
fn shards_lists_an_even_split() {
    let data = tempfile::tempdir().unwrap();
    let created = kwb_in(data.path(), &["put", "--shards", "8", "--count", "0"]);
    assert!(
        stderr(&created).contains("created stream kwb-demo with 8 shards"),
        "{}",
        stderr(&created)
    );
    let output = kwb_in(data.path(), &["shards", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let map: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let shards = map["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 8);
    let total: f64 = shards.iter().map(|s| s["share"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9);
    assert_eq!(
        shards[7]["ending_hash_key"],
        "340282366920938463463374607431768211455"
    );
}

#[test]
fn bad_keys_are_refused_naming_the_limit() {
    fails_with(
        &["put", "--key", "fixed:"],
        &["partition key is empty", "1 to 256"],
    );
    let long = format!("fixed:{}", "k".repeat(257));
    fails_with(
        &["put", "--key", &long],
        &["257 characters", "limit is 256"],
    );
    fails_with(
        &[
            "put",
            "--key",
            "ehk:340282366920938463463374607431768211456",
        ],
        &["out of range", "2^128-1"],
    );
    fails_with(&["put", "--key", "ehk:abc"], &["not a decimal"]);
    fails_with(&["put", "--key", "zipf"], &["not a strategy"]);
}

#[test]
fn oversized_records_and_bad_settings_are_refused() {
    fails_with(
        &["put", "--size", "1048577"],
        &["--size 1048577", "1048576"],
    );
    fails_with(
        &["put", "--max-record-bytes", "20000000"],
        &["max_record_bytes", "10 MiB"],
    );
    fails_with(&["put", "--rate", "0"], &["--rate", "above 0"]);
    fails_with(
        &["put", "--stream", "no spaces"],
        &["stream name", "1 to 128"],
    );
}

#[test]
fn malformed_or_refusing_endpoints_are_reported() {
    fails_with(
        &["--endpoint-url", "localhost:4566", "put"],
        &["--endpoint-url", "http://"],
    );
    // Port 1 on loopback refuses connections.
    fails_with(
        &[
            "--endpoint-url",
            "http://127.0.0.1:1",
            "put",
            "--count",
            "1",
        ],
        &["127.0.0.1:1"],
    );
    fails_with(
        &["--cloudwatch-endpoint-url", "localhost:4566", "metrics"],
        &["--cloudwatch-endpoint-url", "http://"],
    );
}

#[test]
fn a_seed_before_a_command_is_the_workbenchs_and_is_refused_there() {
    fails_with(
        &["--seed", "5", "put", "--count", "1"],
        &[
            "--seed before a command seeds the workbench",
            "kwb put --seed N",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_is_reported_not_created() {
    let server = common::server(true).await;
    let endpoint = server.endpoint();
    let output = tokio::task::spawn_blocking(move || {
        kwb(&[
            "--endpoint-url",
            &endpoint,
            "put",
            "--stream",
            "missing",
            "--count",
            "1",
        ])
    })
    .await
    .unwrap();
    let err = stderr(&output);
    assert!(!output.status.success());
    assert!(err.contains("\"missing\" does not exist"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn an_endpoint_that_accepts_but_never_answers_times_out_with_a_clear_error() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    // The listener is never read: connections are accepted by the kernel and left hanging.
    let started = std::time::Instant::now();
    fails_with(
        &[
            "--endpoint-url",
            &endpoint,
            "--api-timeout",
            "1",
            "put",
            "--count",
            "1",
        ],
        &["did not answer", "timeout", &endpoint],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // CloudWatch at such an endpoint, beside the local server's Kinesis: bounded the same way.
    let data = tempfile::tempdir().unwrap();
    assert!(kwb_in(data.path(), &["put", "--count", "1"])
        .status
        .success());
    let started = std::time::Instant::now();
    let output = kwb_in(
        data.path(),
        &[
            "--cloudwatch-endpoint-url",
            &endpoint,
            "--api-timeout",
            "1",
            "metrics",
            "--source",
            "cloudwatch",
        ],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains(&endpoint) && err.contains("timeout"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    drop(silent);
}

/// `kwb reset --yes` succeeds and leaves the local server with no streams.
fn resets_to_no_streams(data: &Path) {
    let reset = kwb_in(data, &["reset", "--yes"]);
    assert!(reset.status.success(), "{}", stderr(&reset));
    let streams = kwb_in(data, &["streams", "--json"]);
    assert_eq!(
        String::from_utf8(streams.stdout).unwrap().trim(),
        r#"{"streams":[]}"#
    );
}

#[test]
fn the_local_server_outlives_one_command() {
    let data = tempfile::tempdir().unwrap();
    let put = kwb_in(
        data.path(),
        &["put", "--count", "300", "--key", "seq", "--json"],
    );
    assert!(put.status.success(), "{}", stderr(&put));
    let read = kwb_in(data.path(), &["read", "--json"]);
    assert!(read.status.success(), "{}", stderr(&read));
    assert_eq!(String::from_utf8(read.stdout).unwrap().lines().count(), 300);
    // Cleared, the stream is gone; the next command starts from nothing.
    resets_to_no_streams(data.path());
}

/// A long-running kwb child (`serve`, `metrics --watch`), killed when dropped (also when an
/// assertion fails first), so that it never outlives the test holding the runner's output open.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn other_commands_use_kwb_serve_and_reset_clears_it() {
    let data = tempfile::tempdir().unwrap();
    let mut serve = KillOnDrop(
        common::kwb_command(data.path())
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    std::io::BufReader::new(serve.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let endpoint = first
        .trim()
        .strip_prefix("endpoint: ")
        .expect("endpoint line")
        .to_string();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{first}");

    let put = kwb_in(data.path(), &["put", "--count", "50", "--json"]);
    assert!(put.status.success(), "{}", stderr(&put));
    let summary: serde_json::Value = serde_json::from_slice(&put.stdout).unwrap();
    assert!(
        summary["target"].as_str().unwrap().contains(&endpoint),
        "{summary}"
    );
    let second = kwb_in(data.path(), &["serve"]);
    assert!(!second.status.success());
    assert!(stderr(&second).contains(&endpoint), "{}", stderr(&second));
    resets_to_no_streams(data.path());
}

#[test]
fn flags_beat_the_environment_which_beats_the_profile_and_secrets_stay_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "default_profile = \"p\"\n[profiles.p]\nstream = \"from-profile\"\nshards = 2\n\n[profiles.secret]\nendpoint_url = \"http://user:hunter2@127.0.0.1:1\"\n",
    )
    .unwrap();
    let run = |env_stream: Option<&str>, args: &[&str]| {
        let mut command = common::kwb_command(&dir.path().join("data"));
        command.env("KWB_CONFIG", &config);
        if let Some(stream) = env_stream {
            command.env("KWB_STREAM", stream);
        }
        command.args(args).output().unwrap()
    };
    // `put` creates the stream it names, with the profile's shard count.
    let stream_of = |output: Output| -> String {
        assert!(output.status.success(), "{}", stderr(&output));
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            summary["per_shard"].as_object().unwrap().len(),
            2,
            "shards from the profile"
        );
        summary["stream"].as_str().unwrap().to_string()
    };
    let put = ["put", "--count", "0", "--json"];
    assert_eq!(stream_of(run(None, &put)), "from-profile");
    assert_eq!(stream_of(run(Some("from-env"), &put)), "from-env");
    assert_eq!(
        stream_of(run(
            Some("from-env"),
            &[&put[..], &["--stream", "from-flag"]].concat()
        )),
        "from-flag"
    );

    let shown = run(None, &["--profile", "secret", "config", "show"]);
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("\"profile\": \"secret\""), "{text}");
    assert!(
        !text.contains("hunter2") && text.contains("***@127.0.0.1:1"),
        "{text}"
    );
    let failed = run(None, &["--profile", "secret", "put", "--count", "1"]);
    assert!(!failed.status.success());
    assert!(!stderr(&failed).contains("hunter2"), "{}", stderr(&failed));

    std::fs::write(&config, "[profiles.p]\nshard = 4\n").unwrap();
    let bad = run(None, &["shards"]);
    let err = stderr(&bad);
    assert!(!bad.status.success());
    assert!(
        err.contains("config.toml, line 2, column 1") && err.contains("shard"),
        "{err}"
    );
}

#[test]
fn without_a_terminal_the_workbench_points_to_kwb_put() {
    fails_with(&[], &["needs a terminal", "kwb put"]);
}

#[test]
fn metrics_watch_prints_one_json_reading_per_refresh() {
    let data = tempfile::tempdir().unwrap();
    let put = kwb_in(data.path(), &["put", "--count", "300", "--json"]);
    assert!(put.status.success(), "{}", stderr(&put));
    let summary: serde_json::Value = serde_json::from_slice(&put.stdout).unwrap();
    let mut watch = KillOnDrop(
        common::kwb_command(data.path())
            .args(["metrics", "--json", "--minutes", "1", "--watch", "0.2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Lines arrive on a thread, so that a silent kwb fails the test instead of hanging it.
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stdout = watch.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    for reading in 0..2 {
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no reading {reading} within 30 s"));
        let m: serde_json::Value = serde_json::from_str(&line).expect("one object per line");
        assert_eq!(m["source"], "server");
        let shards = m["shards"].as_object().unwrap();
        assert_eq!(shards.len(), 4);
        let records: u64 = shards
            .values()
            .map(|s| s["incoming_records"].as_u64().unwrap())
            .sum();
        assert_eq!(
            records,
            summary["kinesis_records"].as_u64().unwrap(),
            "the server counts the Kinesis records kwb put: {line}"
        );
        assert_eq!(m["stream_level"], serde_json::json!({}));
    }
}

/// Runs `kwb put` with `args` (after `put`) and returns its JSON summary and stderr.
fn put_summary(args: &[&str]) -> (serde_json::Value, String) {
    let mut all = vec!["put", "--json"];
    all.extend_from_slice(args);
    let output = kwb(&all);
    let summary = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}; stderr: {}", stderr(&output)));
    (summary, stderr(&output))
}

#[test]
fn records_past_their_ttl_fail_as_expired_and_none_is_left_to_shutdown() {
    // 1 % of one shard's limit is 10 records/s, and a record may wait 1 s.
    let (summary, err) = put_summary(&[
        "--rate-limit",
        "1",
        "--record-ttl",
        "1",
        "--count",
        "100",
        "--no-aggregate",
        "--key",
        "fixed:k",
    ]);
    let (ok, expired) = (
        summary["ok"].as_u64().unwrap(),
        summary["failed_by_reason"]["Expired"].as_u64().unwrap_or(0),
    );
    assert_eq!(ok + expired, 100, "{summary}");
    // The shard's backlog holds two seconds of that limit (20 records), so the sender waits for
    // room and the records at the back of it outlive their 1 s TTL.
    assert!(ok >= 5 && expired >= 20, "{summary}");
    assert!(
        summary["failed_by_reason"].get("Shutdown").is_none(),
        "{summary}"
    );
    // Nothing delivered much past its TTL (only a request under way then may answer later).
    assert!(
        summary["latency_ms"]["max"].as_f64().unwrap() < 1_500.0,
        "{summary}"
    );
    assert!(err.contains("waited for shardId-"), "{err}");
}

#[test]
fn a_hot_shard_slows_the_sender_so_a_run_ends_soon_after_its_duration() {
    // As fast as possible onto one shard for 5 s: the shard takes 1,000 records or 1 MiB a
    // second, so without a bound on what waits for it tens of thousands of records pile up and
    // drain for tens of seconds after the sending stops. (mode, most seconds of draining and of
    // latency): far past the limit (--rate-limit 1000) the server throttles most attempts and
    // the retries' backoff (up to 5 s) adds to the wait, but the backlog is still two seconds
    // of the limit itself, not of ten times it (24 s of draining and expired records before).
    for (mode, most) in [
        (&["--size", "1000"][..], 4.0),
        (&["--no-aggregate"][..], 4.0),
        (&["--no-aggregate", "--rate-limit", "1000"][..], 12.0),
        // Records of 900 KB: two fill the backlog; the sender stops at the end even while it
        // waits for room.
        (&["--no-aggregate", "--size", "900000"][..], 6.0),
    ] {
        let mut args = vec!["--key", "fixed:hot", "--duration", "5"];
        args.extend_from_slice(mode);
        let (summary, err) = put_summary(&args);
        assert_eq!(summary["failed"], 0, "{mode:?}: {summary} {err}");
        let sending = summary["sending_s"].as_f64().unwrap();
        let draining = summary["draining_s"].as_f64().unwrap();
        assert!((5.0..5.5).contains(&sending), "{mode:?}: {summary}");
        // Two seconds of the shard's limit wait at most, plus a request or two.
        assert!(
            draining < most,
            "{mode:?}: drained for {draining} s: {summary}"
        );
        let max = summary["latency_ms"]["max"].as_f64().unwrap();
        assert!(
            max < most * 1000.0,
            "{mode:?}: a record waited {max} ms: {summary}"
        );
        let elapsed = summary["elapsed_s"].as_f64().unwrap();
        assert!(
            (elapsed - sending - draining).abs() < 0.01,
            "{mode:?}: {summary}"
        );
        // The shard was kept busy: at least 3 of the 5 seconds' worth went through.
        let limit_per_s = match mode {
            [.., "--size", "900000"] => 1.0,
            ["--no-aggregate", ..] => 1000.0,
            _ => 1024.0,
        };
        let ok = summary["ok"].as_f64().unwrap();
        assert!(
            ok >= 3.0 * limit_per_s,
            "{mode:?}: only {ok} delivered: {summary}"
        );
    }
}

#[test]
fn plain_records_wait_the_buffering_time_to_fill_a_request() {
    // 200 records at 100/s over 2 s, buffered up to 1 s: each request goes when its first
    // record has waited 1 s, so records wait half a second on average (not a millisecond).
    let (summary, _) = put_summary(&[
        "--rate",
        "100",
        "--duration",
        "2",
        "--no-aggregate",
        "--max-buffered-ms",
        "1000",
    ]);
    assert_eq!(summary["ok"], 200, "{summary}");
    let p50 = summary["latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50 >= 300.0, "records went without waiting: p50 {p50} ms");
}

#[test]
fn only_the_records_the_target_refuses_fail() {
    // One key in 25 is 200 characters of "é": valid for AWS (256 characters), 400 bytes for the
    // embedded server, which counts UTF-8 bytes and refuses the whole request.
    let data = tempfile::tempdir().unwrap();
    let lines: String = (0..500)
        .map(|i| {
            let key = if i % 25 == 7 {
                "é".repeat(200)
            } else {
                format!("user-{i}")
            };
            format!("{{\"k\":\"{key}\",\"n\":{i}}}\n")
        })
        .collect();
    let file = data.path().join("records.jsonl");
    std::fs::write(&file, lines).unwrap();
    let (summary, err) = put_summary(&[
        "--lines",
        file.to_str().unwrap(),
        "--key",
        "field:/k",
        "--no-aggregate",
    ]);
    assert_eq!(summary["records"], 500, "{summary}");
    assert_eq!(summary["ok"], 480, "{summary}");
    assert_eq!(
        summary["failed_by_reason"]["ValidationException"], 20,
        "{summary}"
    );
    assert!(err.contains("200 characters but 400 bytes"), "{err}");
}

#[test]
fn ctrl_c_while_waiting_for_standard_input_flushes_and_prints_the_summary() {
    let data = tempfile::tempdir().unwrap();
    let mut child = common::kwb_command(data.path())
        .args(["put", "--lines", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"one\ntwo\nthree\n").unwrap();
    // Standard input stays open and quiet. Wait until the three records are in the stream.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let read = common::kwb_command(data.path())
            .args(["read", "--json"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&read.stdout).lines().count() == 3 {
            break;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let put = child.wait_with_output().unwrap();
            panic!(
                "the lines never arrived; read: {:?} {}; put: {}",
                read.status,
                String::from_utf8_lossy(&read.stderr),
                stderr(&put)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100)); // polling the stream
    }
    let interrupted = std::time::Instant::now();
    common::signal(child.id(), "-INT");
    let output = child.wait_with_output().unwrap();
    let waited = interrupted.elapsed();
    drop(stdin);
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (summary["records"].as_u64(), summary["ok"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(summary["interrupted"], true);
    assert!(
        waited < std::time::Duration::from_secs(5),
        "took {waited:?}"
    );
}

#[test]
fn a_password_in_an_endpoint_url_is_never_printed_or_logged() {
    for url in [
        "http://u:hunter2@h:99999",
        "u:hunter2@h",
        "http://u:hunter2@127.0.0.1:1",
        "http://u:hunter2@127.0.0.1:1/a b",
        "http://u:hunter2@[::1",
    ] {
        let output = kwb(&["--endpoint-url", url, "put", "--count", "1"]);
        let err = stderr(&output);
        assert!(!output.status.success(), "{url}");
        assert!(err.contains("error:"), "{url}: {err}");
        assert!(!err.contains("hunter2"), "{url}: {err}");
    }
    // The SDK logs endpoints whole at debug level; the log file must not have the password.
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("kwb.log");
    let output = common::kwb_command(data.path())
        .env("AWS_ENDPOINT_URL", "http://u:hunter2@127.0.0.1:1")
        .env("KWB_LOG", "trace")
        .args(["--log-file", log.to_str().unwrap(), "--api-timeout", "1"])
        .args(["put", "--count", "1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("127.0.0.1:1"),
        "nothing about the endpoint was logged"
    );
    assert!(!logged.contains("hunter2"), "the password was logged");
    assert!(!stderr(&output).contains("hunter2"));
}

#[test]
fn a_second_ctrl_c_stops_waiting_and_still_prints_the_summary() {
    let data = tempfile::tempdir().unwrap();
    // A hot shard: records pile up behind its limit, far more than it takes in the run.
    let mut child = common::kwb_command(data.path())
        .args([
            "put",
            "--key",
            "fixed:k",
            "--no-aggregate",
            "--duration",
            "60",
        ])
        .args(["--record-ttl", "3600", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let interrupt = |pid: u32| common::signal(pid, "-INT");
    // Records are flowing once the stream has one.
    loop {
        let read = common::kwb_command(data.path())
            .args(["read", "--limit", "1", "--json"])
            .output()
            .unwrap();
        if !read.stdout.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100)); // polling the stream
    }
    interrupt(child.id());
    let mut stderr_lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let waiting = stderr_lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("interrupted:"))
        .expect("the first Ctrl-C says what it waits for");
    assert!(waiting.contains("Ctrl-C again"), "{waiting}");
    let second = std::time::Instant::now();
    interrupt(child.id());
    let rest: Vec<String> = stderr_lines.map(|l| l.unwrap()).collect();
    let output = child.wait_with_output().unwrap();
    assert!(second.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(output.status.code(), Some(130), "{rest:?}");
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    let (records, ok, failed) = (
        summary["records"].as_u64().unwrap(),
        summary["ok"].as_u64().unwrap(),
        summary["failed"].as_u64().unwrap(),
    );
    assert!(ok > 0 && failed > 0, "{summary}");
    assert_eq!(
        records,
        ok + failed,
        "every record has its outcome: {summary}"
    );
    assert_eq!(
        summary["failed_by_reason"]["Shutdown"].as_u64(),
        Some(failed),
        "{summary}"
    );
    assert!(
        rest.iter().any(|l| l.contains("undelivered at shutdown")),
        "{rest:?}"
    );
}

#[test]
fn streams_and_reset_see_every_stream_past_the_first_page() {
    let data = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..13).map(|i| format!("page-{i:02}")).collect();
    for name in &names {
        let created = kwb_in(data.path(), &["streams", "create", name, "--shards", "1"]);
        assert!(created.status.success(), "{}", stderr(&created));
    }
    let listed = kwb_in(data.path(), &["streams", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mut got: Vec<String> = listed["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, names, "one page holds 10");
    let reset = kwb_in(data.path(), &["reset", "--yes"]);
    assert!(
        stderr(&reset).contains("deleted 13 streams"),
        "{}",
        stderr(&reset)
    );
    resets_to_no_streams(data.path());
}

#[test]
fn each_run_gets_a_fresh_seed_and_the_seed_repeats_a_run() {
    let data = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["put", "--count", "40", "--key", "random", "--json"];
        args.extend_from_slice(extra);
        let output = kwb_in(data.path(), &args);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let (first, second) = (run(&[]), run(&[]));
    assert_ne!(first["seed"], second["seed"], "two runs, one seed");
    // Exact as a double too (jq, JavaScript): at most 2^53 - 1.
    for summary in [&first, &second] {
        assert!(summary["seed"].as_u64().unwrap() < 1 << 53, "{summary}");
    }
    let seed = first["seed"].as_u64().unwrap().to_string();
    let again = run(&["--seed", &seed]);
    assert_eq!(again["seed"], first["seed"]);
    assert_eq!(
        again["per_shard"], first["per_shard"],
        "the same keys land the same way"
    );
}

#[test]
fn only_commands_that_send_create_a_missing_stream() {
    let data = tempfile::tempdir().unwrap();
    let put = kwb_in(data.path(), &["put", "--stream", "real", "--count", "1"]);
    assert!(
        stderr(&put).contains("created stream real with 4 shards"),
        "{}",
        stderr(&put)
    );
    for args in [
        &["shards", "--stream", "typo-strem"][..],
        &["read", "--stream", "does-not-exist"],
        &["metrics", "--stream", "does-not-exist"],
        &["shard-of", "k", "--stream", "does-not-exist"],
    ] {
        let output = kwb_in(data.path(), args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("stream {:?} does not exist", args[args.len() - 1])),
            "{err}"
        );
        assert!(err.contains("streams there: real"), "{err}");
    }
    let listed = kwb_in(data.path(), &["streams", "--json"]);
    assert_eq!(
        String::from_utf8(listed.stdout).unwrap().trim(),
        r#"{"streams":["real"]}"#,
        "nothing else was created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_target_cannot_do_is_said_in_one_line() {
    let data = tempfile::tempdir().unwrap();
    let data_path = data.path().to_path_buf();
    let t = common::target("elsewhere", 1, false).await;
    let endpoint = t.server.endpoint();
    let (on_demand, cloudwatch, not_cloudwatch, own_cloudwatch) =
        tokio::task::spawn_blocking(move || {
            let put = kwb_in(&data_path, &["put", "--count", "1"]);
            assert!(put.status.success(), "{}", stderr(&put));
            (
                kwb_in(&data_path, &["streams", "create", "od", "--on-demand"]),
                kwb_in(&data_path, &["metrics", "--source", "cloudwatch"]),
                kwb_in(
                    &data_path,
                    &[
                        "--endpoint-url",
                        &endpoint,
                        "metrics",
                        "--stream",
                        "elsewhere",
                        "--source",
                        "cloudwatch",
                    ],
                ),
                // CloudWatch at an endpoint of its own (which refuses connections): Kinesis's
                // endpoint is for Kinesis only.
                kwb_in(
                    &data_path,
                    &[
                        "--endpoint-url",
                        &endpoint,
                        "--cloudwatch-endpoint-url",
                        "http://127.0.0.1:1",
                        "metrics",
                        "--stream",
                        "elsewhere",
                        "--source",
                        "cloudwatch",
                    ],
                ),
            )
        })
        .await
        .unwrap();
    let err = stderr(&on_demand);
    assert_eq!(on_demand.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no on-demand streams") && err.contains("--shards N"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let err = stderr(&cloudwatch);
    assert!(
        err.contains("no CloudWatch") && err.contains("--source server"),
        "{err}"
    );
    // A Kinesis server asked for CloudWatch answers in another protocol: said as such.
    let err = stderr(&not_cloudwatch);
    assert!(!not_cloudwatch.status.success());
    assert!(
        err.contains("did not answer in CloudWatch's protocol"),
        "{err}"
    );
    let err = stderr(&own_cloudwatch);
    assert!(!own_cloudwatch.status.success());
    assert!(
        err.contains("at http://127.0.0.1:1 failed") && err.contains("Connection refused"),
        "{err}"
    );
}

#[test]
fn the_local_server_reads_cloudwatch_where_an_endpoint_is_named_for_it() {
    // No Kinesis target named (the local server), CloudWatch named by the environment: asked
    // there (it refuses connections) instead of refused as something the local server lacks.
    let data = tempfile::tempdir().unwrap();
    assert!(kwb_in(data.path(), &["put", "--count", "1"])
        .status
        .success());
    let output = common::kwb_command(data.path())
        .env("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:1")
        .args(["metrics", "--source", "cloudwatch"])
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(!err.contains("no CloudWatch"), "{err}");
    assert!(err.contains("at http://127.0.0.1:1 failed"), "{err}");
    // `kwb config show` says where each service goes.
    let shown = common::kwb_command(data.path())
        .env("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:1")
        .args(["config", "show"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["target"]["endpoint_url"], serde_json::Value::Null);
    assert_eq!(
        shown["target"]["cloudwatch_endpoint_url"],
        "http://127.0.0.1:1"
    );
}

#[test]
fn a_missing_aws_profile_is_named_with_the_profiles_there_are() {
    let data = tempfile::tempdir().unwrap();
    let (config, credentials) = (data.path().join("config"), data.path().join("credentials"));
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\n[profile dev]\n[sso-session corp]\n",
    )
    .unwrap();
    std::fs::write(&credentials, "[ci]\naws_access_key_id = x\n").unwrap();
    // Named by the flag or by AWS_PROFILE, each said as such.
    for (setting, args, env) in [
        ("--profile", &["--profile", "prd", "shards"][..], None),
        ("AWS_PROFILE", &["shards"][..], Some("prd")),
    ] {
        let mut command = common::kwb_command(data.path());
        command
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .args(args);
        if let Some(profile) = env {
            command.env("AWS_PROFILE", profile);
        }
        let output = command.output().unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert!(err.contains(&format!("{setting} \"prd\"")), "{err}");
        assert!(
            err.contains("the profiles there: ci, default, dev"),
            "{err}"
        );
        assert!(
            !err.contains("IMDS") && !err.contains("no AWS region"),
            "{err}"
        );
    }
    // A kwb profile named by KWB_PROFILE with no profiles file: none there, said so.
    let output = common::kwb_command(data.path())
        .env("KWB_PROFILE", "prd")
        .arg("shards")
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("\"prd\" does not exist (profiles: there are none)"),
        "{err}"
    );
}

#[test]
fn output_that_cannot_be_written_ends_kwb_without_a_panic() {
    let data = tempfile::tempdir().unwrap();
    assert!(kwb_in(data.path(), &["put", "--count", "200"])
        .status
        .success());
    for args in [
        &["shards"][..],
        &["put", "--count", "10"],
        &["read", "--json"],
    ] {
        // The reader went away (`kwb shards | true`): a quiet exit.
        let mut child = common::kwb_command(data.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let err = stderr(&output);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            matches!(output.status.code(), Some(0 | 141)),
            "{args:?}: {:?} {err}",
            output.status
        );
        // A full disk: an error, and a failing exit.
        let output = common::kwb_command(data.path())
            .args(args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("standard output") && err.contains("No space left"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn reset_refuses_a_named_target() {
    fails_with(
        &["--endpoint-url", "http://127.0.0.1:1", "reset", "--yes"],
        &["clears the local server only", "kwb streams delete"],
    );
}

#[test]
fn shard_level_metrics_are_not_turned_on_where_there_is_no_cloudwatch() {
    let data = tempfile::tempdir().unwrap();
    assert!(kwb_in(data.path(), &["put", "--count", "1"])
        .status
        .success());
    let output = kwb_in(data.path(), &["metrics", "--enable-shard-metrics"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("the local server has no CloudWatch"), "{err}");
    assert!(String::from_utf8_lossy(&output.stdout).is_empty());
}

#[test]
fn an_endpoint_that_is_not_kinesis_is_said_to_be_such() {
    // A web server answering every request with an HTML error page.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut request = [0u8; 65536];
                let _ = stream.read(&mut request);
                let page = "<html><body>Not Found</body></html>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
            });
        }
    });
    fails_with(
        &["--endpoint-url", &endpoint, "shards"],
        &[
            "did not answer in Kinesis's protocol",
            "is it a Kinesis endpoint?",
        ],
    );
}
