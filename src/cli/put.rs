//! `kwb put`: compose records, send them through the producer, report every outcome.

use crate::cli::summary::{Run, Summary, Tally};
use crate::cli::{open_stream, StreamArgs, TargetFlags};
use crate::compose::keys::KeyStrategy;
use crate::compose::payload::Payloads;
use crate::producer::config::ProducerConfig;
use crate::producer::record::NewRecord;
use crate::producer::{PendingOutcome, Producer};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug, Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    /// How many records to send.
    #[arg(long, conflicts_with = "duration")]
    pub count: Option<u64>,
    /// Send for this many seconds instead of a count.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Records per second (default: as fast as the producer accepts them).
    #[arg(long, value_name = "RECORDS_PER_SEC")]
    pub rate: Option<f64>,
    /// Partition-key strategy: random, fixed:KEY or ehk:DECIMAL.
    #[arg(long, default_value = "random")]
    pub key: KeyStrategy,
    /// Bytes of data per record.
    #[arg(long, default_value_t = 100, value_name = "BYTES")]
    pub size: usize,
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
        if let Some(rate) = self.rate {
            positive("--rate", rate)?;
        }
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
        let (key, _) = self.key.next_key();
        if key.len() + self.size > config.max_record_bytes {
            anyhow::bail!(
                "--size {} plus the {}-byte partition key is over the record limit of {} bytes (--max-record-bytes)",
                self.size,
                key.len(),
                config.max_record_bytes
            );
        }
        Ok(config)
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

pub async fn run(target: &TargetFlags, args: PutArgs) -> anyhow::Result<i32> {
    let config = args.producer_config()?;
    let connection = open_stream(target, &args.stream).await?;
    let stream = args.stream.stream.clone();
    let producer = Producer::start(connection.producer.clone(), &stream, config.clone()).await?;
    let metrics = producer.metrics().clone();
    let bar = progress_bar(&args);

    let (outcomes, mut pending) = mpsc::unbounded_channel::<PendingOutcome>();
    let tally_bar = bar.clone();
    let tally_metrics = metrics.clone();
    let tally = tokio::spawn(async move {
        let mut tally = Tally::default();
        while let Some(outcome) = pending.recv().await {
            tally.add(&outcome.await);
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

    let payloads = Payloads::new(args.size, 42);
    let start = Instant::now();
    let end = args.duration.map(|d| start + Duration::from_secs_f64(d));
    let count = args
        .count
        .unwrap_or(if end.is_some() { u64::MAX } else { 1000 });
    let mut interrupted = false;
    let mut sent = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while sent < count && end.is_none_or(|e| Instant::now() < e) {
        if let Some(rate) = args.rate {
            let due = start + Duration::from_secs_f64(sent as f64 / rate);
            if due > Instant::now() {
                tokio::select! {
                    _ = &mut ctrl_c => { interrupted = true; break; }
                    _ = tokio::time::sleep_until(due.into()) => {}
                }
            }
        }
        let (partition_key, explicit_hash_key) = args.key.next_key();
        let record = NewRecord {
            partition_key,
            explicit_hash_key,
            data: payloads.payload(sent).into(),
        };
        tokio::select! {
            biased;
            _ = &mut ctrl_c => { interrupted = true; break; }
            accepted = producer.put(record) => {
                let _ = outcomes.send(accepted?);
                sent += 1;
            }
        }
    }
    drop(outcomes);
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
    let map = crate::kinesis::shard_map::list_shards(&connection.admin, &stream)
        .await
        .ok();
    let open = map.iter().flat_map(|m| {
        m.open_shards()
            .map(|s| s.shard_id.clone())
            .collect::<Vec<_>>()
    });
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
