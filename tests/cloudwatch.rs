//! The CloudWatch source against a CloudWatch-compatible server over HTTP (LocalStack, which
//! speaks the Rust SDK's CBOR protocol): shard-level datapoints seeded with PutMetricData come
//! back per shard and minute, with gaps where nothing was seeded. `scripts/test.sh` installs and
//! starts LocalStack, sets `KWB_LOCALSTACK_ENDPOINT` and runs this test; a plain `cargo test`
//! counts it as ignored.

use aws_config::BehaviorVersion;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;
use kwb::stream_metrics::cloudwatch::{client, fetch, Window, PERIOD};
use std::time::{Duration, SystemTime};

#[tokio::test]
#[ignore = "needs LocalStack (KWB_LOCALSTACK_ENDPOINT): scripts/test.sh starts it and runs this test"]
async fn seeded_shard_metrics_come_back_per_shard_and_minute_with_gaps() {
    let endpoint = std::env::var("KWB_LOCALSTACK_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "KWB_LOCALSTACK_ENDPOINT is not set ({}); run this test through scripts/test.sh",
            std::env::var("KWB_LOCALSTACK_SKIP")
                .unwrap_or_else(|_| "LocalStack not started".into())
        )
    });
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let cw = client(&sdk);
    // A stream name of this run's own, so that earlier runs' data cannot match.
    let stream = format!(
        "cw-{}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let window = Window::last_minutes(SystemTime::now(), 5);
    let shard = |i: usize| format!("shardId-{i:012}");
    // (shard, or none for the stream level; metric; minute of the window; value)
    let seeded: [(Option<usize>, &str, u32, f64); 5] = [
        (Some(0), "IncomingRecords", 1, 100.0),
        (Some(0), "IncomingRecords", 3, 300.0),
        (Some(2), "IncomingBytes", 2, 2048.0),
        (Some(2), "WriteProvisionedThroughputExceeded", 4, 7.0),
        (None, "PutRecords.ThrottledRecords", 2, 11.0),
    ];
    for (s, metric, minute, value) in seeded {
        let at = window.start + PERIOD * minute + Duration::from_secs(10);
        let dimension =
            |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
        let datum = MetricDatum::builder()
            .metric_name(metric)
            .dimensions(dimension("StreamName", &stream));
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
