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

/// A CloudWatch client for a target's configuration (region, credentials, endpoint).
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(sdk)
            .retry_config(retry_config())
            .build(),
    )
}

#[derive(Debug, thiserror::Error)]
#[error("CloudWatch GetMetricData for stream {stream:?} failed: {message}")]
pub struct CloudWatchError {
    stream: String,
    message: String,
}

/// The query id of shard `shard` (its index) and metric `metric` (an index into SHARD_METRICS).
fn query_id(shard: usize, metric: usize) -> String {
    format!("s{shard}_m{metric}")
}

fn parse_query_id(id: &str) -> Option<(usize, usize)> {
    let (shard, metric) = id.strip_prefix('s')?.split_once("_m")?;
    Some((shard.parse().ok()?, metric.parse().ok()?))
}

/// Every query for `shards` of `stream`: one per shard and metric.
pub fn queries(stream: &str, shards: &[String]) -> Vec<MetricDataQuery> {
    shards
        .iter()
        .enumerate()
        .flat_map(|(s, shard)| {
            SHARD_METRICS
                .iter()
                .enumerate()
                .map(move |(m, (name, stat))| {
                    let metric = Metric::builder()
                        .namespace(NAMESPACE)
                        .metric_name(*name)
                        .dimensions(
                            Dimension::builder()
                                .name("StreamName")
                                .value(stream)
                                .build(),
                        )
                        .dimensions(Dimension::builder().name("ShardId").value(shard).build())
                        .build();
                    MetricDataQuery::builder()
                        .id(query_id(s, m))
                        .metric_stat(
                            MetricStat::builder()
                                .metric(metric)
                                .period(PERIOD.as_secs() as i32)
                                .stat(*stat)
                                .build(),
                        )
                        .return_data(true)
                        .build()
                })
        })
        .collect()
}

/// Reads the shard-level metrics of `shards` over `window`: ceil(shards x 3 / 500) requests,
/// each followed through its pages.
pub async fn fetch(
    client: &Client,
    stream: &str,
    shards: &[String],
    window: Window,
) -> Result<StreamMetrics, CloudWatchError> {
    let failed = |message: String| CloudWatchError {
        stream: stream.to_string(),
        message,
    };
    let mut series: Vec<[Series; 3]> = shards
        .iter()
        .map(|_| std::array::from_fn(|_| vec![None; window.periods]))
        .collect();
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
                .map_err(|e| failed(crate::errors::describe(&e)))?;
            for result in page.metric_data_results() {
                let Some((s, m)) = result.id().and_then(parse_query_id) else {
                    continue;
                };
                let Some(target) = series.get_mut(s).and_then(|metrics| metrics.get_mut(m)) else {
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
                        },
                    )
                },
            )
            .collect::<BTreeMap<_, _>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_per_shard_and_metric_with_ids_that_map_back() {
        let shards: Vec<String> = (0..2).map(|i| format!("shardId-{i:012}")).collect();
        let q = queries("orders", &shards);
        assert_eq!(q.len(), 6);
        assert_eq!(q[4].id(), Some("s1_m1"));
        assert_eq!(parse_query_id("s1_m1"), Some((1, 1)));
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
            let (s, m) = parse_query_id(q.id().unwrap()).unwrap();
            MetricDataResult::builder()
                .id(q.id().unwrap())
                .timestamps(minute_1)
                .values((s * 10 + m) as f64)
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
        assert_eq!(rule.num_calls(), 3, "500 queries in two pages, then 100");
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
