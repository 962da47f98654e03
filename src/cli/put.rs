//! `kwb put`: compose records, send them through the producer, report every outcome.

use crate::cli::summary::{Resolved, Run, Summary, Tally};
use crate::cli::{open_stream, StreamArgs, TargetFlags};
use crate::compose::keys::{KeyPicker, KeyStrategy, STRATEGY_HELP};
use crate::compose::payload::Payloads;
use crate::compose::rate::RateShape;
use crate::compose::template::Template;
use crate::compose::{ComposeError, Composer, Source};
use crate::producer::config::ProducerConfig;
use crate::producer::Producer;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{BufReader, IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug, Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    /// How many records to send (default 1000; with --lines, every line).
    #[arg(long, conflicts_with = "duration")]
    pub count: Option<u64>,
    /// Send for this many seconds instead of a count.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Rate shape: R (records/s), constant:R, ramp:FROM:TO:SECS, burst:R:ON_SECS:OFF_SECS,
    /// sine:LOW:HIGH:PERIOD_SECS or max (as fast as the producer accepts; the default).
    #[arg(long, value_name = "SHAPE", default_value = "max")]
    pub rate: RateShape,
    /// Partition-key strategy: random, fixed:KEY, ehk:DECIMAL, shard-round-robin,
    /// field:JSON_POINTER, zipf:N:S or seq. `--key help` explains each.
    #[arg(long, default_value = "random", value_name = "STRATEGY")]
    pub key: String,
    /// Record template file (or - for stdin), with {{...}} placeholders.
    #[arg(long, value_name = "FILE", group = "data_source")]
    pub template: Option<PathBuf>,
    /// Send each line of a file (or - for stdin) as a record.
    #[arg(long, value_name = "FILE", group = "data_source")]
    pub lines: Option<PathBuf>,
    /// Send this string as every record's data.
    #[arg(long, value_name = "TEXT", group = "data_source")]
    pub data: Option<String>,
    /// Bytes of data per record when no template, lines or data are given.
    #[arg(
        long,
        default_value_t = 100,
        value_name = "BYTES",
        group = "data_source"
    )]
    pub size: usize,
    /// Seed for random keys and data, so that runs repeat.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Send every user record as its own Kinesis record.
    #[arg(long)]
    pub no_aggregate: bool,
    /// Share of each shard's write limits the producer allows itself, in percent.
    #[arg(long, default_value_t = 100.0, value_name = "PERCENT")]
    pub rate_limit: f64,
    /// How long a record may wait to be batched, in milliseconds.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub max_buffered_ms: u64,
    /// A record not delivered within this many seconds fails as expired.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub record_ttl: f64,
    /// Largest record the stream accepts (key + data), in bytes: 1 MiB by default, up to 10 MiB.
    #[arg(long, default_value_t = crate::producer::config::DEFAULT_MAX_RECORD_BYTES, value_name = "BYTES")]
    pub max_record_bytes: usize,
    /// Print one JSON object summarising the run, and nothing else, on stdout.
    #[arg(long)]
    pub json: bool,
}

impl PutArgs {
    fn producer_config(&self) -> anyhow::Result<ProducerConfig> {
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "{field} {v} is out of range: it must be above 0"
                ))
            }
        };
        positive("--record-ttl", self.record_ttl)?;
        if let Some(duration) = self.duration {
            positive("--duration", duration)?;
        }
        let config = ProducerConfig {
            aggregation: !self.no_aggregate,
            rate_limit_percent: self.rate_limit,
            max_buffered_time: Duration::from_millis(self.max_buffered_ms),
            record_ttl: Duration::from_secs_f64(self.record_ttl),
            max_record_bytes: self.max_record_bytes,
            max_request_bytes: self
                .max_record_bytes
                .max(ProducerConfig::default().max_request_bytes),
            ..ProducerConfig::default()
        };
        config.validate()?;
        if self.size >= config.max_record_bytes {
            anyhow::bail!(
                "--size {} plus a partition key of at least 1 byte is over the record limit of {} bytes (--max-record-bytes)",
                self.size,
                config.max_record_bytes
            );
        }
        Ok(config)
    }

    /// The data source, read and checked before anything is sent.
    fn source(&self) -> anyhow::Result<Source> {
        let open = |path: &PathBuf| -> anyhow::Result<Box<dyn std::io::BufRead + Send>> {
            if path.as_os_str() == "-" {
                Ok(Box::new(BufReader::new(std::io::stdin())))
            } else {
                let file = std::fs::File::open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                Ok(Box::new(BufReader::new(file)))
            }
        };
        Ok(if let Some(path) = &self.template {
            let mut text = String::new();
            open(path)?
                .read_to_string(&mut text)
                .with_context(|| format!("reading template {}", path.display()))?;
            let template =
                Template::parse(&text).with_context(|| format!("template {}", path.display()))?;
            Source::Template(template)
        } else if let Some(path) = &self.lines {
            Source::Lines(open(path)?)
        } else if let Some(data) = &self.data {
            Source::Literal(data.clone().into_bytes())
        } else {
            Source::Sized(Payloads::new(self.size, self.seed))
        })
    }
}

fn progress_bar(args: &PutArgs) -> ProgressBar {
    if args.json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match args.count {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} ETA {eta} {msg}",
        )
        .expect("template"),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// `--key help`: every strategy and what it does to the shards.
fn strategy_help() -> String {
    STRATEGY_HELP
        .iter()
        .map(|(syntax, what)| format!("{syntax:<20} {what}\n"))
        .collect()
}

pub async fn run(target: &TargetFlags, args: PutArgs) -> anyhow::Result<i32> {
    if args.key == "help" {
        print!("{}", strategy_help());
        return Ok(0);
    }
    let strategy: KeyStrategy = args.key.parse()?;
    let config = args.producer_config()?;
    let source = args.source()?;
    let connection = open_stream(target, &args.stream).await?;
    let stream = args.stream.stream.clone();
    let producer = Producer::start(connection.producer.clone(), &stream, config.clone()).await?;
    let metrics = producer.metrics().clone();
    let bar = progress_bar(&args);

    let (outcomes, mut pending) = mpsc::unbounded_channel::<Resolved>();
    let tally_bar = bar.clone();
    let tally_metrics = metrics.clone();
    let tally = tokio::spawn(async move {
        let mut tally = Tally::default();
        while let Some(resolved) = pending.recv().await {
            tally.add(resolved).await;
            tally_bar.inc(1);
            if tally.resolved() % 1024 == 0 {
                let snap = tally_metrics.snapshot(0);
                tally_bar.set_message(format!(
                    "ok {} failed {} throttled {}",
                    tally.ok(),
                    tally.failed(),
                    snap.sum(|s| s.throttled)
                ));
            }
        }
        tally
    });

    let keys = KeyPicker::new(strategy, &producer.shard_map(), args.seed);
    let mut composer = Composer::new(source, keys, args.seed);
    let start = Instant::now();
    let end = args.duration.map(|d| start + Duration::from_secs_f64(d));
    let unbounded = end.is_some() || args.lines.is_some();
    let count = args
        .count
        .unwrap_or(if unbounded { u64::MAX } else { 1000 });
    let mut interrupted = false;
    let mut stopped_by: Option<anyhow::Error> = None;
    let mut sent = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while sent < count && end.is_none_or(|e| Instant::now() < e) {
        if let Some(due) = args.rate.due(sent).map(|d| start + d) {
            if end.is_some_and(|e| due >= e) {
                break;
            }
            if due > Instant::now() {
                tokio::select! {
                    _ = &mut ctrl_c => { interrupted = true; break; }
                    _ = tokio::time::sleep_until(due.into()) => {}
                }
            }
        }
        let record = match composer.next(sent, &producer.shard_map()) {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(ComposeError::Key(error)) => {
                let _ = outcomes.send(Resolved::Refused {
                    label: "KeyError".into(),
                    message: error.to_string(),
                });
                sent += 1;
                continue;
            }
            Err(error) => {
                stopped_by = Some(error.into());
                break;
            }
        };
        tokio::select! {
            biased;
            _ = &mut ctrl_c => { interrupted = true; break; }
            accepted = producer.put(record) => {
                let resolved = match accepted {
                    Ok(pending) => Resolved::Pending(pending),
                    Err(refused) => Resolved::Refused { label: refused.label().into(), message: refused.to_string() },
                };
                let _ = outcomes.send(resolved);
                sent += 1;
            }
        }
    }
    drop(outcomes);
    // The producer's own map (kept fresh while it ran) lists the shards for the summary.
    let map = producer.shard_map();
    // Everything accepted gets its TTL to resolve; what cannot make it is reported.
    let grace = config.record_ttl + config.request_timeout;
    let report = tokio::select! {
        report = producer.shutdown(grace) => report,
        _ = tokio::signal::ctrl_c() => {
            anyhow::bail!("interrupted again: stopped without waiting for outstanding records");
        }
    };
    let tally = tally.await?;
    bar.finish_and_clear();
    let open = map.open_shards().map(|s| s.shard_id.clone());
    let run = Run {
        stream,
        target: connection.target.to_string(),
        records: sent,
        elapsed: start.elapsed(),
        interrupted,
    };
    let summary = Summary::new(run, tally, &metrics.snapshot(0), open);
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.render());
    }
    if report.undelivered > 0 {
        eprintln!(
            "error: {} records were still undelivered at shutdown",
            report.undelivered
        );
    }
    if let Some(error) = stopped_by {
        eprintln!("error: stopped early: {error:#}");
        return Ok(1);
    }
    if summary.failed > 0 {
        eprintln!(
            "error: {} of {} records failed; first failure: {}",
            summary.failed,
            summary.records,
            summary.first_failure.as_deref().unwrap_or("unknown")
        );
        return Ok(1);
    }
    Ok(if interrupted { 130 } else { 0 })
}
