//! `kwb metrics`: what the stream saw per shard (every producer's traffic, not only kwb's), from
//! the embedded server's own counts or from CloudWatch, as a table with sparklines, CSV or JSON,
//! once or refreshed.

use crate::cli::{StreamArgs, TargetFlags};
use crate::kinesis::client::Connection;
use crate::kinesis::open::Missing;
use crate::stream_metrics::cloudwatch::STREAM_METRICS;
use crate::stream_metrics::{
    enable_shard_metrics, read, shard_metrics_off, total, watch, Series, Source, StreamMetrics,
};
use clap::Args;
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    /// Where the numbers come from: the embedded server's own counts (1-second periods, the
    /// default on the embedded target) or CloudWatch's shard-level metrics (1-minute periods,
    /// the default elsewhere).
    #[arg(long, value_enum)]
    pub source: Option<Source>,
    /// How far back to look, in minutes (the server keeps 10).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1440),
          allow_hyphen_values = true)]
    pub minutes: u16,
    /// One JSON object per reading instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV rows (time,shard,incoming_records,incoming_bytes,write_throttled,outgoing_records,
    /// outgoing_bytes,read_throttled; empty where there is no data) instead of a table.
    #[arg(long)]
    pub csv: bool,
    /// Read again every SECS seconds (5 if no value) until interrupted; a slow reading is
    /// dropped for the next one rather than queued.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "5",
          value_parser = crate::cli::positive_secs)]
    pub watch: Option<f64>,
    /// Turn on CloudWatch's shard-level metrics for the stream (enhanced monitoring) and exit.
    /// AWS bills each shard-level metric per shard.
    #[arg(long)]
    pub enable_shard_metrics: bool,
}

/// The metric names as JSON keys and CSV columns, in `ShardSeries` order.
const KEYS: [&str; 6] = [
    "incoming_records",
    "incoming_bytes",
    "write_throttled",
    "outgoing_records",
    "outgoing_bytes",
    "read_throttled",
];

fn series_of(s: &crate::stream_metrics::ShardSeries) -> [&Series; 6] {
    [
        &s.incoming_records,
        &s.incoming_bytes,
        &s.write_throttled,
        &s.outgoing_records,
        &s.outgoing_bytes,
        &s.read_throttled,
    ]
}

/// A total, or null when the source had no data at all (a gap is not a zero).
fn total_or_null(series: &Series) -> Value {
    if series.iter().all(Option::is_none) {
        Value::Null
    } else {
        json!(total(series).round() as u64)
    }
}

/// The stream-level metrics over the window: sums, or the maximum for maximum statistics;
/// null where CloudWatch had no data.
fn stream_level(m: &StreamMetrics) -> serde_json::Map<String, Value> {
    STREAM_METRICS
        .iter()
        .filter_map(|(name, stat)| {
            let series = m.stream_level.get(*name)?;
            let value = match (*stat, series.iter().flatten().copied().reduce(f64::max)) {
                (_, None) => Value::Null,
                ("Maximum", Some(max)) => json!(max.round() as u64),
                _ => total_or_null(series),
            };
            Some((name.to_string(), value))
        })
        .collect()
}

pub fn to_json(m: &StreamMetrics, minutes: u16) -> Value {
    let shards: serde_json::Map<String, Value> = m
        .shards
        .iter()
        .map(|(id, s)| {
            let values = KEYS
                .iter()
                .zip(series_of(s))
                .map(|(k, v)| (k.to_string(), total_or_null(v)))
                .collect::<serde_json::Map<_, _>>();
            (id.clone(), Value::Object(values))
        })
        .collect();
    json!({
        "stream": m.stream,
        "source": m.source.name(),
        "minutes": minutes,
        "period_secs": m.period.as_secs(),
        "shards": shards,
        "stream_level": stream_level(m),
    })
}

/// A series as a line of block characters, at most `width` wide (neighbouring periods summed);
/// gaps are blank.
pub fn sparkline(series: &Series, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let per = series.len().div_ceil(width.max(1)).max(1);
    let buckets: Vec<Option<f64>> = series
        .chunks(per)
        .map(|c| c.iter().flatten().copied().reduce(|a, b| a + b))
        .collect();
    let top = buckets.iter().flatten().copied().fold(0.0, f64::max);
    buckets
        .iter()
        .map(|b| match b {
            None => ' ',
            Some(_) if top == 0.0 => BARS[0],
            Some(v) => BARS[((v / top) * 7.0).round() as usize],
        })
        .collect()
}

fn table(m: &StreamMetrics, minutes: u16, sparklines: bool) -> String {
    let mut out = format!(
        "stream {} | source {} | last {minutes} min in {} s periods\n{:<22} {:>12} {:>14} {:>10} {:>12} {:>14} {:>10}{}\n",
        m.stream,
        m.source.name(),
        m.period.as_secs(),
        "shard",
        "records",
        "bytes",
        "throttled",
        "read recs",
        "read bytes",
        "read thr.",
        if sparklines { "  records over time" } else { "" }
    );
    let cell = |s: &Series| match total_or_null(s) {
        Value::Null => "-".to_string(),
        v => v.to_string(),
    };
    for (id, s) in &m.shards {
        out.push_str(&format!(
            "{:<22} {:>12} {:>14} {:>10} {:>12} {:>14} {:>10}",
            id,
            cell(&s.incoming_records),
            cell(&s.incoming_bytes),
            cell(&s.write_throttled),
            cell(&s.outgoing_records),
            cell(&s.outgoing_bytes),
            cell(&s.read_throttled)
        ));
        if sparklines {
            out.push_str("  ");
            out.push_str(&sparkline(&s.incoming_records, 30));
        }
        out.push('\n');
    }
    let level: Vec<String> = stream_level(m)
        .into_iter()
        .map(|(name, v)| {
            format!(
                "{name} {}",
                if v.is_null() {
                    "-".into()
                } else {
                    v.to_string()
                }
            )
        })
        .collect();
    if !level.is_empty() {
        out.push_str(&format!("stream level: {}\n", level.join(" | ")));
    }
    out
}

fn csv(m: &StreamMetrics, header: bool) -> String {
    let time = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let mut out = String::new();
    if header {
        out.push_str(&format!("time,shard,{}\n", KEYS.join(",")));
    }
    for (id, s) in &m.shards {
        let values: Vec<String> = series_of(s)
            .iter()
            .map(|v| match total_or_null(v) {
                Value::Null => String::new(),
                v => v.to_string(),
            })
            .collect();
        out.push_str(&format!("{time},{id},{}\n", values.join(",")));
    }
    out
}

/// Says on stderr when CloudWatch has no shard-level data for the stream, and how to get it.
async fn warn_if_off(connection: &Connection, stream: &str) {
    if let Some(missing) = shard_metrics_off(connection, stream).await {
        eprintln!(
            "note: shard-level metrics {} are off for {stream}: CloudWatch has no per-shard data for them; `kwb metrics --enable-shard-metrics` turns them on (billed per shard and metric)",
            missing.join(", ")
        );
    }
}

pub async fn run(target: &TargetFlags, args: MetricsArgs) -> anyhow::Result<i32> {
    let connection = args.stream.open(target, Missing::Fail).await?;
    let stream = &args.stream.stream;
    if args.enable_shard_metrics {
        let on = enable_shard_metrics(&connection, stream).await?;
        println!(
            "shard-level metrics on for {stream}: {} (CloudWatch bills each per shard; `aws kinesis disable-enhanced-monitoring` turns them off)",
            on.join(", ")
        );
        return Ok(0);
    }
    let source = args
        .source
        .unwrap_or_else(|| Source::default_for(&connection.target));
    if source == Source::Cloudwatch {
        if !connection.has_cloudwatch() {
            anyhow::bail!(
                "the local server has no CloudWatch: its own counts are --source server (the default here); CloudWatch needs an AWS target or an endpoint of its own (--cloudwatch-endpoint-url or AWS_ENDPOINT_URL_CLOUDWATCH)"
            );
        }
        warn_if_off(&connection, stream).await;
    }
    let minutes = args.minutes;
    let terminal = std::io::stdout().is_terminal();
    let show = |m: &StreamMetrics, first: bool| {
        if args.json {
            println!("{}", to_json(m, minutes));
        } else if args.csv {
            print!("{}", csv(m, first));
        } else {
            if args.watch.is_some() && terminal {
                // Clear the screen and go home before each table.
                print!("\x1b[2J\x1b[H");
            }
            print!("{}", table(m, minutes, terminal));
        }
    };
    let Some(every) = args.watch else {
        let m = read(&connection, stream, source, minutes as usize).await?;
        show(&m, true);
        return Ok(0);
    };
    let mut first = true;
    let mut failed = None;
    let watching = watch(
        &connection,
        stream,
        source,
        minutes as usize,
        Duration::from_secs_f64(every),
        |reading| match reading {
            Ok(m) => {
                show(&m, first);
                first = false;
                true
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        },
    );
    tokio::select! {
        _ = watching => {}
        _ = tokio::signal::ctrl_c() => return Ok(0),
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_totals_shards_and_stream_level_metrics_with_nulls_for_gaps() {
        use crate::stream_metrics::ShardSeries;
        let mut m = StreamMetrics {
            stream: "orders".into(),
            source: Source::Cloudwatch,
            period: Duration::from_secs(60),
            shards: Default::default(),
            stream_level: Default::default(),
        };
        m.shards.insert(
            "shardId-000000000000".into(),
            ShardSeries {
                incoming_records: vec![Some(10.0), None, Some(5.0)],
                incoming_bytes: vec![None; 3],
                write_throttled: vec![Some(0.0), None, None],
                ..Default::default()
            },
        );
        m.stream_level.insert(
            "GetRecords.IteratorAgeMilliseconds".into(),
            vec![Some(40.0), Some(90.0), None],
        );
        m.stream_level
            .insert("IncomingRecords".into(), vec![Some(7.0), Some(8.0), None]);
        let j = to_json(&m, 3);
        assert_eq!(j["source"], "cloudwatch");
        assert_eq!(j["period_secs"], 60);
        let shard = &j["shards"]["shardId-000000000000"];
        assert_eq!(shard["incoming_records"], 15);
        assert_eq!(shard["incoming_bytes"], Value::Null, "no data is not zero");
        assert_eq!(shard["write_throttled"], 0);
        assert_eq!(
            j["stream_level"]["GetRecords.IteratorAgeMilliseconds"], 90,
            "a maximum"
        );
        assert_eq!(j["stream_level"]["IncomingRecords"], 15);
    }

    #[test]
    fn sparklines_scale_to_the_top_and_leave_gaps_blank() {
        let s: Series = vec![Some(0.0), Some(7.0), None, Some(14.0)];
        assert_eq!(sparkline(&s, 4), "▁▅ █");
        assert_eq!(sparkline(&s, 2), "▅█", "neighbours summed");
        assert_eq!(sparkline(&vec![Some(0.0); 3], 3), "▁▁▁");
    }
}
