//! The CloudWatch source against a CloudWatch-compatible server over HTTP (LocalStack, which
//! speaks the Rust SDK's CBOR protocol): shard-level datapoints seeded with PutMetricData come
//! back per shard and minute, with gaps where nothing was seeded; kwb asks CloudWatch at its own
//! endpoint while Kinesis is a ferrokinesis elsewhere, from `kwb metrics` and in the workbench's
//! stream view. `scripts/test.sh` installs and starts LocalStack, sets `KWB_LOCALSTACK_ENDPOINT`
//! and runs these tests (all named `with_localstack_...`); a plain `cargo test` counts them as
//! ignored.

use crate::common;

use aws_config::BehaviorVersion;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;
use common::pty::{table_rows, Workbench};
use kwb::stream_metrics::cloudwatch::{client, fetch, Window, PERIOD};
use std::time::{Duration, SystemTime};

/// LocalStack's endpoint, as scripts/test.sh exports it.
fn localstack() -> String {
    std::env::var("KWB_LOCALSTACK_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "KWB_LOCALSTACK_ENDPOINT is not set ({}); run this test through scripts/test.sh",
            std::env::var("KWB_LOCALSTACK_SKIP")
                .unwrap_or_else(|_| "LocalStack not started".into())
        )
    })
}

async fn cloudwatch() -> aws_sdk_cloudwatch::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(localstack())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    client(&sdk, None, Duration::from_secs(10))
}

/// A stream name of this run's own, so that earlier runs' data cannot match.
fn unique_stream(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{nanos}")
}

fn shard(i: usize) -> String {
    format!("shardId-{i:012}")
}

/// A datapoint to seed: shard (none for the stream level), metric, minute of the window, value.
type Seeded = (Option<usize>, &'static str, u32, f64);

/// Datapoints with gaps: shard 0 in minutes 1 and 3, shard 2's bytes and throttles, a
/// stream-level count, shard 1 nothing.
const GAPPY: [Seeded; 5] = [
    (Some(0), "IncomingRecords", 1, 100.0),
    (Some(0), "IncomingRecords", 3, 300.0),
    (Some(2), "IncomingBytes", 2, 2048.0),
    (Some(2), "WriteProvisionedThroughputExceeded", 4, 7.0),
    (None, "PutRecords.ThrottledRecords", 2, 11.0),
];

async fn seed(cw: &aws_sdk_cloudwatch::Client, stream: &str, window: Window, seeded: &[Seeded]) {
    for &(s, metric, minute, value) in seeded {
        let at = window.start + PERIOD * minute + Duration::from_secs(10);
        let dimension =
            |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
        let datum = MetricDatum::builder()
            .metric_name(metric)
            .dimensions(dimension("StreamName", stream));
        let datum = match s {
            Some(s) => datum.dimensions(dimension("ShardId", &shard(s))),
            None => datum,
        };
        cw.put_metric_data()
            .namespace("AWS/Kinesis")
            .metric_data(
                datum
                    .timestamp(DateTime::from(at))
                    .value(value)
                    .unit(StandardUnit::Count)
                    .build(),
            )
            .send()
            .await
            .expect("PutMetricData");
    }
}

#[tokio::test]
#[ignore = "needs LocalStack (KWB_LOCALSTACK_ENDPOINT): scripts/test.sh starts it and runs this test"]
async fn with_localstack_seeded_shard_metrics_come_back_per_shard_and_minute_with_gaps() {
    let cw = cloudwatch().await;
    let stream = unique_stream("cw");
    let window = Window::last_minutes(SystemTime::now(), 5);
    seed(&cw, &stream, window, &GAPPY).await;
    let shards: Vec<String> = (0..3).map(shard).collect();
    let m = fetch(&cw, &stream, &shards, window)
        .await
        .expect("GetMetricData");
    let s0 = &m.shards[&shard(0)];
    assert_eq!(
        s0.incoming_records,
        vec![None, Some(100.0), None, Some(300.0), None]
    );
    assert_eq!(s0.incoming_bytes, vec![None; 5]);
    assert_eq!(m.shards[&shard(1)].incoming_records, vec![None; 5]);
    let s2 = &m.shards[&shard(2)];
    assert_eq!(
        s2.incoming_bytes,
        vec![None, None, Some(2048.0), None, None]
    );
    assert_eq!(s2.write_throttled, vec![None, None, None, None, Some(7.0)]);
    assert_eq!(
        m.stream_level["PutRecords.ThrottledRecords"],
        vec![None, None, Some(11.0), None, None]
    );
    // (LocalStack also answers a stream-level query with shard-level datapoints, which carry
    // more dimensions; CloudWatch matches dimensions exactly. Not asserted either way.)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LocalStack (KWB_LOCALSTACK_ENDPOINT): scripts/test.sh starts it and runs this test"]
async fn with_localstack_kwb_asks_cloudwatch_at_its_own_endpoint_and_kinesis_at_the_kinesis_one() {
    let cw = cloudwatch().await;
    let stream = unique_stream("own");
    // Kinesis is a ferrokinesis of the test's own; CloudWatch is LocalStack.
    let t = common::target(&stream, 3, false).await;
    let kinesis = t.server.endpoint();
    let window = Window::last_minutes(SystemTime::now(), 5);
    seed(&cw, &stream, window, &GAPPY).await;
    let localstack = localstack();
    let data = tempfile::tempdir().unwrap();
    let profiles = data.path().join("profiles.toml");
    std::fs::write(
        &profiles,
        format!(
            "[profiles.split]\nendpoint_url = \"{kinesis}\"\ncloudwatch_endpoint_url = \"{localstack}\"\n"
        ),
    )
    .unwrap();
    let read = [
        "metrics",
        "--stream",
        &stream,
        "--source",
        "cloudwatch",
        "--json",
    ];
    // How CloudWatch's endpoint is named, the arguments and the environment that name it.
    type Way<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let runs: Vec<Way> = vec![
        (
            "the flag",
            vec![
                "--endpoint-url",
                &kinesis,
                "--cloudwatch-endpoint-url",
                &localstack,
            ],
            vec![],
        ),
        (
            "AWS_ENDPOINT_URL_CLOUDWATCH",
            vec![],
            vec![
                ("AWS_ENDPOINT_URL_KINESIS", kinesis.as_str()),
                ("AWS_ENDPOINT_URL_CLOUDWATCH", localstack.as_str()),
            ],
        ),
        (
            "the profile",
            vec!["--profile", "split"],
            vec![("KWB_CONFIG", profiles.to_str().unwrap())],
        ),
    ];
    for (how, args, env) in runs {
        let mut command = common::kwb_command(data.path());
        command.args(&args).args(read).envs(env);
        let output = tokio::task::spawn_blocking(move || command.output().expect("run kwb"))
            .await
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{how}: {err}");
        let m: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{how}: {e}: {err}"));
        assert_eq!(m["source"], "cloudwatch", "{how}: {m}");
        // The shards are the ferrokinesis stream's; the datapoints are LocalStack's.
        let shards = &m["shards"];
        assert_eq!(shards.as_object().unwrap().len(), 3, "{how}: {m}");
        assert_eq!(shards[shard(0)]["incoming_records"], 400.0, "{how}: {m}");
        assert_eq!(
            shards[shard(1)]["incoming_records"],
            serde_json::Value::Null,
            "{how}: {m}"
        );
        assert_eq!(shards[shard(2)]["write_throttled"], 7.0, "{how}: {m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LocalStack (KWB_LOCALSTACK_ENDPOINT): scripts/test.sh starts it and runs this test"]
async fn with_localstack_the_workbench_stream_view_shows_cloudwatch_per_shard_and_marks_the_throttled_shard(
) {
    let cw = cloudwatch().await;
    let stream = unique_stream("view");
    let t = common::target(&stream, 4, false).await;
    let kinesis = t.server.endpoint();
    let window = Window::last_minutes(SystemTime::now(), 5);
    // The last two minutes (either may be the workbench's last complete one): shard 2 at the
    // write limit (60,000 records a minute) and throttled 600 times a minute; the others at 10 %.
    let mut seeded: Vec<Seeded> = Vec::new();
    for minute in [3, 4] {
        for s in 0..4 {
            let records = if s == 2 { 60_000.0 } else { 6_000.0 };
            seeded.push((Some(s), "IncomingRecords", minute, records));
            seeded.push((Some(s), "IncomingBytes", minute, records * 100.0));
        }
        seeded.push((Some(2), "WriteProvisionedThroughputExceeded", minute, 600.0));
    }
    seed(&cw, &stream, window, &seeded).await;
    let localstack = localstack();
    tokio::task::spawn_blocking(move || {
        let mut kwb = Workbench::start_with(
            &["--endpoint-url", &kinesis, "--stream", &stream],
            &[("AWS_ENDPOINT_URL_CLOUDWATCH", &localstack)],
        );
        kwb.wait_paused();
        kwb.press("s");
        kwb.wait_for(
            "CloudWatch's minutes: shard 2 at its limit and throttled",
            Duration::from_secs(60),
            |s| {
                let rows = table_rows(s);
                rows.len() == 4
                    && rows.iter().all(|r| {
                        if r.id.ends_with('2') {
                            r.limit >= 95 && r.throttled == "10"
                        } else {
                            r.limit == 10 && r.throttled == "0"
                        }
                    })
                    && s.contains("numbers: the stream's")
            },
        );
        // Marked as throttled: its throttles in red, its limit in red too.
        let rows = table_rows(&kwb.contents());
        let hot = rows.iter().find(|r| r.id.ends_with('2')).unwrap();
        let parser = kwb.screen.lock().unwrap();
        let cell = parser
            .screen()
            .cell(hot.line, hot.throttled_column)
            .expect("the thr/s cell")
            .clone();
        assert_eq!(cell.fgcolor(), vt100::Color::Idx(1), "throttles not in red");
    })
    .await
    .unwrap();
}
