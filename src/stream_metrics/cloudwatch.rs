//! CloudWatch's shard-level metrics of a stream (enhanced monitoring): one GetMetricData query
//! per shard and metric, at most 500 queries per request, every page read, per-minute
//! datapoints placed on the window's grid with gaps where CloudWatch has none.

use super::{Series, ShardSeries, Source, StreamMetrics};
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_cloudwatch::Client;
use aws_smithy_types::DateTime;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Most queries GetMetricData takes in one request.
pub const MAX_QUERIES: usize = 500;
/// CloudWatch's period for shard-level metrics.
pub const PERIOD: Duration = Duration::from_secs(60);
const NAMESPACE: &str = "AWS/Kinesis";

/// The shard-level metrics read, in the order of `ShardSeries`'s fields, each with its statistic.
pub const SHARD_METRICS: [(&str, &str); 3] = [
    ("IncomingRecords", "Sum"),
    ("IncomingBytes", "Sum"),
    ("WriteProvisionedThroughputExceeded", "Sum"),
];

/// The stream-level metrics read (dimension StreamName only), each with its statistic.
pub const STREAM_METRICS: [(&str, &str); 5] = [
    ("IncomingRecords", "Sum"),
    ("IncomingBytes", "Sum"),
    ("PutRecords.ThrottledRecords", "Sum"),
    ("WriteProvisionedThroughputExceeded", "Sum"),
    ("GetRecords.IteratorAgeMilliseconds", "Maximum"),
];

/// A run of whole periods: `periods` minutes from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: SystemTime,
    pub periods: usize,
}

impl Window {
    /// The last `minutes` whole minutes before `now` (the current, partial minute left out).
    pub fn last_minutes(now: SystemTime, minutes: usize) -> Window {
        let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let end = secs - secs % PERIOD.as_secs();
        Window {
            start: UNIX_EPOCH + Duration::from_secs(end) - PERIOD * minutes as u32,
            periods: minutes,
        }
    }

    fn end(&self) -> SystemTime {
        self.start + PERIOD * self.periods as u32
    }

    /// The period a datapoint's timestamp falls in, if it is inside the window.
    fn slot(&self, at: SystemTime) -> Option<usize> {
        let offset = at.duration_since(self.start).ok()?;
        let i = (offset.as_secs() / PERIOD.as_secs()) as usize;
        (i < self.periods).then_some(i)
    }
}

/// How CloudWatch calls are retried: throttling and transient errors back off, from 200 ms
/// doubling to 5 s, five attempts in all.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(5)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(5))
}

/// A CloudWatch client for a target's configuration (region, credentials), at `endpoint` when
/// one is named for it (else where the configuration says: AWS's own by default); each call,
/// retries included, fails after `timeout`.
pub fn client(sdk: &aws_config::SdkConfig, endpoint: Option<&str>, timeout: Duration) -> Client {
    let mut builder = aws_sdk_cloudwatch::config::Builder::from(sdk)
        .retry_config(retry_config())
        .timeout_config(
            aws_sdk_cloudwatch::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3).min(timeout))
                .operation_timeout(timeout)
                .build(),
        );
    if let Some(url) = endpoint {
        builder = builder.endpoint_url(url);
    }
    Client::from_conf(builder.build())
}

#[derive(Debug, thiserror::Error)]
#[error("CloudWatch GetMetricData for stream {stream:?}{at} failed: {message}")]
pub struct CloudWatchError {
    stream: String,
    /// " at URL" when CloudWatch is not AWS's own (redacted), else empty.
    at: String,
    message: String,
}

impl CloudWatchError {
    /// Names the endpoint the call went to, when one was named for CloudWatch.
    pub fn at(mut self, endpoint: Option<&str>) -> CloudWatchError {
        if let Some(url) = endpoint {
            self.at = format!(" at {}", crate::config::redact_url(url));
        }
        self
    }
}

/// What a query asks for: metric `metric` of shard `shard` (indices into `shards` and
/// SHARD_METRICS), or stream-level metric `metric` (an index into STREAM_METRICS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Shard { shard: usize, metric: usize },
    Stream { metric: usize },
}

impl Asked {
    fn id(self) -> String {
        match self {
            Asked::Shard { shard, metric } => format!("s{shard}_m{metric}"),
            Asked::Stream { metric } => format!("stream_m{metric}"),
        }
    }

    fn parse(id: &str) -> Option<Asked> {
        if let Some(metric) = id.strip_prefix("stream_m") {
            return Some(Asked::Stream {
                metric: metric.parse().ok()?,
            });
        }
        let (shard, metric) = id.strip_prefix('s')?.split_once("_m")?;
        Some(Asked::Shard {
            shard: shard.parse().ok()?,
            metric: metric.parse().ok()?,
        })
    }
}

fn query(asked: Asked, name: &str, stat: &str, dimensions: &[(&str, &str)]) -> MetricDataQuery {
    let metric = dimensions
        .iter()
        .fold(
            Metric::builder().namespace(NAMESPACE).metric_name(name),
            |m, (key, value)| m.dimensions(Dimension::builder().name(*key).value(*value).build()),
        )
        .build();
    MetricDataQuery::builder()
        .id(asked.id())
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(PERIOD.as_secs() as i32)
                .stat(stat)
                .build(),
        )
        .return_data(true)
        .build()
}

/// Every query for `stream`: one per shard and shard-level metric, then the stream-level ones.
pub fn queries(stream: &str, shards: &[String]) -> Vec<MetricDataQuery> {
    let per_shard = shards.iter().enumerate().flat_map(|(s, shard)| {
        SHARD_METRICS
            .iter()
            .enumerate()
            .map(move |(m, (name, stat))| {
                let asked = Asked::Shard {
                    shard: s,
                    metric: m,
                };
                query(
                    asked,
                    name,
                    stat,
                    &[("StreamName", stream), ("ShardId", shard)],
                )
            })
    });
    let per_stream = STREAM_METRICS.iter().enumerate().map(|(m, (name, stat))| {
        query(
            Asked::Stream { metric: m },
            name,
            stat,
            &[("StreamName", stream)],
        )
    });
    per_shard.chain(per_stream).collect()
}

/// Reads the shard-level metrics of `shards` and the stream-level ones over `window`:
/// ceil((shards x 3 + 5) / 500) requests (4 for 500 shards), each followed through its pages.
pub async fn fetch(
    client: &Client,
    stream: &str,
    shards: &[String],
    window: Window,
) -> Result<StreamMetrics, CloudWatchError> {
    let failed = |message: String| CloudWatchError {
        stream: stream.to_string(),
        at: String::new(),
        message,
    };
    let mut series: Vec<[Series; 3]> = shards
        .iter()
        .map(|_| std::array::from_fn(|_| vec![None; window.periods]))
        .collect();
    let mut stream_level: Vec<Series> = vec![vec![None; window.periods]; STREAM_METRICS.len()];
    for batch in queries(stream, shards).chunks(MAX_QUERIES) {
        let mut next_token = None;
        loop {
            let page = client
                .get_metric_data()
                .set_metric_data_queries(Some(batch.to_vec()))
                .start_time(DateTime::from(window.start))
                .end_time(DateTime::from(window.end()))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| {
                    failed(crate::errors::protocol_hint(
                        crate::errors::describe(&e),
                        "CloudWatch",
                        "Smithy RPC v2 CBOR",
                        &["unexpected type", "expected map"],
                    ))
                })?;
            for result in page.metric_data_results() {
                let target = match result.id().and_then(Asked::parse) {
                    Some(Asked::Shard { shard, metric }) => {
                        series.get_mut(shard).and_then(|m| m.get_mut(metric))
                    }
                    Some(Asked::Stream { metric }) => stream_level.get_mut(metric),
                    None => None,
                };
                let Some(target) = target else {
                    continue;
                };
                for (at, value) in result.timestamps().iter().zip(result.values()) {
                    let Ok(at) = SystemTime::try_from(*at) else {
                        continue;
                    };
                    if let Some(i) = window.slot(at) {
                        target[i] = Some(target[i].unwrap_or(0.0) + value);
                    }
                }
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => break,
            }
        }
    }
    Ok(StreamMetrics {
        stream: stream.to_string(),
        source: Source::Cloudwatch,
        period: PERIOD,
        shards: shards
            .iter()
            .cloned()
            .zip(series)
            .map(
                |(id, [incoming_records, incoming_bytes, write_throttled])| {
                    (
                        id,
                        ShardSeries {
                            incoming_records,
                            incoming_bytes,
                            write_throttled,
                            ..ShardSeries::default()
                        },
                    )
                },
            )
            .collect::<BTreeMap<_, _>>(),
        stream_level: STREAM_METRICS
            .iter()
            .map(|(name, _)| name.to_string())
            .zip(stream_level)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_per_shard_and_metric_with_ids_that_map_back() {
        let shards: Vec<String> = (0..2).map(|i| format!("shardId-{i:012}")).collect();
        let q = queries("orders", &shards);
        assert_eq!(q.len(), 6 + STREAM_METRICS.len());
        assert_eq!(q[4].id(), Some("s1_m1"));
        assert_eq!(
            Asked::parse("s1_m1"),
            Some(Asked::Shard {
                shard: 1,
                metric: 1
            })
        );
        assert_eq!(q[8].id(), Some("stream_m2"));
        assert_eq!(Asked::parse("stream_m2"), Some(Asked::Stream { metric: 2 }));
        let stream_level = q[8].metric_stat().unwrap().metric().unwrap();
        assert_eq!(
            stream_level.metric_name(),
            Some("PutRecords.ThrottledRecords")
        );
        assert_eq!(stream_level.dimensions().len(), 1);
        let stat = q[4].metric_stat().unwrap();
        assert_eq!(stat.period(), Some(60));
        assert_eq!(stat.stat(), Some("Sum"));
        let metric = stat.metric().unwrap();
        assert_eq!(metric.metric_name(), Some("IncomingBytes"));
        let dims: Vec<_> = metric
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        assert_eq!(
            dims,
            vec![
                ("StreamName", "orders"),
                ("ShardId", "shardId-000000000001")
            ]
        );
    }

    use aws_sdk_cloudwatch::operation::get_metric_data::{
        GetMetricDataError, GetMetricDataInput, GetMetricDataOutput,
    };
    use aws_sdk_cloudwatch::types::MetricDataResult;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;

    const NOW: u64 = 1_800_000_000;

    fn window() -> Window {
        Window::last_minutes(UNIX_EPOCH + Duration::from_secs(NOW), 5)
    }

    /// An answer with one datapoint per query, in minute 1 of the window, worth s*10+m; a
    /// request of 500 queries is answered in two pages.
    fn answer(request: &GetMetricDataInput) -> GetMetricDataOutput {
        let queries = request.metric_data_queries();
        let (from, to, token) = match (queries.len(), request.next_token()) {
            (500, None) => (0, 250, Some("page-2")),
            (500, Some(_)) => (250, 500, None),
            (n, _) => (0, n, None),
        };
        let minute_1 = DateTime::from(window().start + PERIOD);
        let results = queries[from..to].iter().map(|q| {
            let value = match Asked::parse(q.id().unwrap()).unwrap() {
                Asked::Shard { shard, metric } => shard * 10 + metric,
                Asked::Stream { metric } => 100_000 + metric,
            };
            MetricDataResult::builder()
                .id(q.id().unwrap())
                .timestamps(minute_1)
                .values(value as f64)
                .build()
        });
        GetMetricDataOutput::builder()
            .set_metric_data_results(Some(results.collect()))
            .set_next_token(token.map(str::to_string))
            .build()
    }

    #[tokio::test]
    async fn six_hundred_queries_take_two_batches_and_every_page() {
        let rule = mock!(Client::get_metric_data)
            .match_requests(|r| r.metric_data_queries().len() <= MAX_QUERIES)
            .then_compute_output(answer);
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule]);
        let shards: Vec<String> = (0..200).map(|i| format!("shardId-{i:012}")).collect();
        let m = fetch(&client, "orders", &shards, window()).await.unwrap();
        assert_eq!(rule.num_calls(), 3, "500 queries in two pages, then 105");
        assert_eq!(
            m.stream_level["GetRecords.IteratorAgeMilliseconds"][1],
            Some(100_004.0)
        );
        assert_eq!(m.source, Source::Cloudwatch);
        assert_eq!(m.shards.len(), 200);
        let s199 = &m.shards["shardId-000000000199"];
        assert_eq!(
            s199.write_throttled,
            vec![None, Some(1992.0), None, None, None],
            "a value where CloudWatch had one, gaps elsewhere"
        );
        assert_eq!(s199.incoming_records[1], Some(1990.0));
        assert_eq!(
            m.shards["shardId-000000000083"].incoming_bytes[1],
            Some(831.0)
        );
    }

    #[tokio::test]
    async fn five_hundred_shards_take_four_requests() {
        let rule = mock!(Client::get_metric_data).then_compute_output(|r| {
            assert!(r.metric_data_queries().len() <= MAX_QUERIES);
            GetMetricDataOutput::builder().build()
        });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule]);
        let shards: Vec<String> = (0..500).map(|i| format!("shardId-{i:012}")).collect();
        fetch(&client, "orders", &shards, window()).await.unwrap();
        assert_eq!(rule.num_calls(), 4);
    }

    #[tokio::test]
    async fn missing_shards_and_points_stay_gaps() {
        let rule = mock!(Client::get_metric_data).then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder()
                        .id("s0_m0")
                        .timestamps(DateTime::from(window().start))
                        .values(7.0)
                        // Outside the window: ignored.
                        .timestamps(DateTime::from(window().start - PERIOD))
                        .values(99.0)
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
        let shards = vec!["a".to_string(), "b".to_string()];
        let m = fetch(&client, "orders", &shards, window()).await.unwrap();
        assert_eq!(
            m.shards["a"].incoming_records,
            vec![Some(7.0), None, None, None, None]
        );
        assert_eq!(m.shards["b"].incoming_records, vec![None; 5]);
    }

    fn throttled() -> GetMetricDataError {
        GetMetricDataError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    }

    #[tokio::test]
    async fn throttling_is_retried_with_backoff_and_persistent_throttling_says_so() {
        let fast_retries = |c: aws_sdk_cloudwatch::config::Builder| {
            c.retry_config(retry_config().with_initial_backoff(Duration::from_millis(1)))
        };
        let rule = mock!(Client::get_metric_data)
            .sequence()
            .error(throttled)
            .times(2)
            .output(|| GetMetricDataOutput::builder().build())
            .build();
        let client = mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::Sequential,
            [&rule],
            fast_retries
        );
        let shards = vec!["a".to_string()];
        fetch(&client, "orders", &shards, window()).await.unwrap();
        assert_eq!(rule.num_calls(), 3, "two throttles, then the answer");

        let always = mock!(Client::get_metric_data)
            .sequence()
            .error(throttled)
            .repeatedly()
            .build();
        let client = mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::Sequential,
            [&always],
            fast_retries
        );
        let error = fetch(&client, "orders", &shards, window())
            .await
            .unwrap_err();
        assert_eq!(always.num_calls(), 5, "five attempts");
        let text = error.to_string();
        assert!(
            text.contains("orders") && text.contains("Rate exceeded"),
            "{text}"
        );
    }

    #[test]
    fn the_window_is_whole_minutes_before_now() {
        let now = UNIX_EPOCH + Duration::from_secs(3_600 + 59);
        let w = Window::last_minutes(now, 5);
        assert_eq!(w.start, UNIX_EPOCH + Duration::from_secs(3_300));
        assert_eq!(w.end(), UNIX_EPOCH + Duration::from_secs(3_600));
        assert_eq!(w.slot(UNIX_EPOCH + Duration::from_secs(3_300)), Some(0));
        assert_eq!(w.slot(UNIX_EPOCH + Duration::from_secs(3_599)), Some(4));
        assert_eq!(w.slot(UNIX_EPOCH + Duration::from_secs(3_600)), None);
        assert_eq!(w.slot(UNIX_EPOCH), None);
    }
}
