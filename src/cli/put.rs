//! `kwb put`: compose records, send them through the producer, report every outcome.

use crate::cli::summary::{KeyNote, Resolved, Run, Summary, Tally};
use crate::cli::{StreamArgs, TargetFlags};
use crate::compose::keys::{KeyPicker, KeyStrategy, STRATEGY_HELP};
use crate::compose::lines::LineFeed;
use crate::compose::payload::Payloads;
use crate::compose::rate::{Due, RateShape};
use crate::compose::template::Template;
use crate::compose::{ComposeError, Composer, Source};
use crate::hot_keys::HotKeys;
use crate::kinesis::open::Missing;
use crate::producer::config::{Api, ProducerConfig, DEFAULT_MAX_RECORD_BYTES, MAX_RECORD_BYTES};
use crate::producer::{Producer, PutError};
use anyhow::Context;
use clap::Args;
use futures_util::stream::{FuturesUnordered, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::{BufReader, IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug, Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    /// How many records to send (default 1000; with --lines, every line).
    #[arg(long, conflicts_with = "duration", allow_hyphen_values = true)]
    pub count: Option<u64>,
    /// Send for this many seconds instead of a count (above 0, at most a year).
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    pub duration: Option<f64>,
    /// Rate shape: R (records/s), constant:R, ramp:FROM:TO:SECS, burst:R:ON_SECS:OFF_SECS,
    /// sine:LOW:HIGH:PERIOD_SECS or max (as fast as the producer accepts; the default). Every
    /// number from 0 to 10000000 (rates in records/s, durations in seconds); a constant rate, a
    /// ramp's larger end, a burst's rate and a sine's high above 0. A shape that falls to 0 for
    /// good ends the run when it has sent all it ever will, and says so.
    #[arg(
        long,
        value_name = "SHAPE",
        default_value = "max",
        allow_hyphen_values = true
    )]
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
        group = "data_source",
        allow_hyphen_values = true
    )]
    pub size: usize,
    /// Seed for random keys and data: the summary prints the one a run used, and `--seed` with
    /// it repeats the run (default: a fresh one each run).
    #[arg(long, allow_hyphen_values = true)]
    pub seed: Option<u64>,
    /// Send every user record as its own Kinesis record.
    #[arg(long)]
    pub no_aggregate: bool,
    /// Also count the delivered records' keys per shard: the summary adds each shard's top keys
    /// and advice (`hot_keys` in JSON, as `kwb hotkeys --json` prints it).
    #[arg(long)]
    pub hotkeys: bool,
    /// Share of each shard's write limits the producer allows itself, in percent (0.1 to 1000).
    #[arg(
        long,
        default_value_t = 100.0,
        value_name = "PERCENT",
        allow_hyphen_values = true
    )]
    pub rate_limit: f64,
    /// How long a record may wait to fill a request, aggregated or not, in milliseconds (at
    /// most 60000).
    #[arg(
        long,
        default_value_t = 100,
        value_name = "MS",
        allow_hyphen_values = true
    )]
    pub max_buffered_ms: u64,
    /// A record not delivered within this many seconds of being accepted fails as expired,
    /// wherever it waits; no attempt starts after that (0.1 to 86400).
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECS",
        allow_hyphen_values = true
    )]
    pub record_ttl: f64,
    /// Longest one call of the producer (PutRecords, ListShards) may take before it counts as
    /// failed and is tried again, in seconds (0.1 to 300).
    #[arg(
        long,
        default_value_t = 6.0,
        value_name = "SECS",
        allow_hyphen_values = true
    )]
    pub request_timeout: f64,
    /// Largest record the stream accepts (key + data), in bytes, 1 MiB to 10 MiB (default: what
    /// the stream says, else 1 MiB).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub max_record_bytes: Option<usize>,
    /// The call records go out with: put-records (up to 500 records a call, aggregated unless
    /// --no-aggregate) or put-record (one call per record, as the SDK's examples send them, 24
    /// calls at once; never aggregated).
    #[arg(long, value_enum, default_value = "put-records")]
    pub api: ApiArg,
    /// Print one JSON object summarising the run, and nothing else, on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `--api`: the Kinesis call `kwb put` sends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiArg {
    PutRecords,
    PutRecord,
}

impl From<ApiArg> for Api {
    fn from(arg: ApiArg) -> Api {
        match arg {
            ApiArg::PutRecords => Api::PutRecords,
            ApiArg::PutRecord => Api::PutRecord,
        }
    }
}

impl PutArgs {
    fn producer_config(&self) -> anyhow::Result<ProducerConfig> {
        seconds_within(
            "--record-ttl",
            self.record_ttl,
            SHORTEST_WAIT_SECS,
            MAX_RECORD_TTL_SECS,
        )?;
        seconds_within(
            "--request-timeout",
            self.request_timeout,
            SHORTEST_WAIT_SECS,
            MAX_REQUEST_TIMEOUT_SECS,
        )?;
        if let Some(duration) = self.duration {
            seconds_within("--duration", duration, 0.0, MAX_DURATION_SECS)?;
        }
        let config = ProducerConfig {
            aggregation: !self.no_aggregate,
            rate_limit_percent: self.rate_limit,
            max_buffered_time: Duration::from_millis(self.max_buffered_ms),
            record_ttl: Duration::from_secs_f64(self.record_ttl),
            request_timeout: Duration::from_secs_f64(self.request_timeout),
            max_record_bytes: self.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES),
            max_request_bytes: self
                .max_record_bytes
                .unwrap_or(DEFAULT_MAX_RECORD_BYTES)
                .max(ProducerConfig::default().max_request_bytes),
            record_size_from_stream: self.max_record_bytes.is_none(),
            ..ProducerConfig::default()
        }
        .with_api(self.api.into());
        config.validate().map_err(|e| {
            let flag = match e.field {
                "max_record_bytes" => "--max-record-bytes",
                "max_buffered_time" => "--max-buffered-ms",
                "rate_limit_percent" => "--rate-limit",
                other => other,
            };
            anyhow::anyhow!("{flag}: {e}")
        })?;
        // Before the stream is asked: no stream takes more than 10 MiB.
        match self.max_record_bytes {
            Some(limit) => check_size(self.size, limit, "--max-record-bytes")?,
            None => check_size(self.size, MAX_RECORD_BYTES, "the most any stream takes")?,
        }
        Ok(config)
    }

    /// The data source, read and checked before anything is sent.
    fn source(&self, seed: u64) -> anyhow::Result<Source> {
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
            Source::Lines(LineFeed::spawn(open(path)?))
        } else if let Some(data) = &self.data {
            Source::Literal(data.clone().into_bytes())
        } else {
            Source::Sized(Payloads::new(self.size, seed))
        })
    }
}

/// The shortest `--record-ttl` and `--request-timeout`: no request is answered sooner.
const SHORTEST_WAIT_SECS: f64 = 0.1;
/// The longest `--record-ttl`: a day.
const MAX_RECORD_TTL_SECS: f64 = 86_400.0;
/// The longest `--request-timeout`: five minutes.
const MAX_REQUEST_TIMEOUT_SECS: f64 = 300.0;
/// The longest `--duration`: a year.
const MAX_DURATION_SECS: f64 = 31_536_000.0;

/// Checks a number of seconds given to `flag`: above 0, at least `min` and at most `max`.
fn seconds_within(flag: &str, value: f64, min: f64, max: f64) -> anyhow::Result<()> {
    if value.is_finite() && value > 0.0 && value >= min && value <= max {
        return Ok(());
    }
    if min > 0.0 {
        anyhow::bail!("{flag} {value:?} is out of range: it must be from {min} to {max} seconds")
    }
    anyhow::bail!("{flag} {value:?} is out of range: it must be above 0 and at most {max} seconds")
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
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {rate} ETA {eta} {msg}",
        )
        .expect("template")
        // Whole records a second ({per_sec} shows four decimals).
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        ),
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

/// Added to the longest a record can take to resolve, for the producer's own bookkeeping.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(2);

/// Counts each record's outcome as it resolves, in any order: only records still unresolved are
/// held, so memory stays bounded by the producer's limit however long the run.
async fn tally_outcomes(
    mut records: mpsc::UnboundedReceiver<Resolved>,
    bar: ProgressBar,
    metrics: std::sync::Arc<crate::producer::metrics::ProducerMetrics>,
    hot_keys: Option<HotKeys>,
) -> Tally {
    let mut tally = Tally::new(hot_keys);
    let mut unresolved = FuturesUnordered::new();
    let mut open = true;
    while open || !unresolved.is_empty() {
        tokio::select! {
            record = records.recv(), if open => match record {
                Some(Resolved::Pending(pending, note)) => {
                    unresolved.push(async move { (pending.await, note) });
                    continue;
                }
                Some(Resolved::Refused { label, message }) => tally.add_failure(label, message),
                None => { open = false; continue; }
            },
            Some((outcome, note)) = unresolved.next(), if !unresolved.is_empty() => tally.add_outcome(&outcome, note),
        }
        bar.inc(1);
        if tally.resolved().is_multiple_of(1024) {
            let snap = metrics.snapshot(0);
            bar.set_message(format!(
                "ok {} failed {} throttled {}",
                tally.ok(),
                tally.failed(),
                snap.sum(|s| s.throttled)
            ));
        }
    }
    tally
}

/// `--size` against a record limit (`whose`): the data and a partition key of at least 1 byte.
fn check_size(size: usize, limit: usize, whose: &str) -> anyhow::Result<()> {
    if size >= limit {
        anyhow::bail!(
            "--size {size} plus a partition key of at least 1 byte is over the record limit of {limit} bytes ({whose})"
        );
    }
    Ok(())
}

pub async fn run(target: &TargetFlags, args: PutArgs) -> anyhow::Result<i32> {
    if args.key == "help" {
        print!("{}", strategy_help());
        return Ok(0);
    }
    let strategy: KeyStrategy = args.key.parse()?;
    let config = args.producer_config()?;
    let seed = args.seed.unwrap_or_else(crate::compose::fresh_seed);
    let source = args.source(seed)?;
    let connection = args.stream.open(target, Missing::Create).await?;
    let stream = args.stream.stream.clone();
    let producer = Producer::start(connection.producer.clone(), &stream, config).await?;
    // The settings as adjusted to what the stream says of itself.
    let config = producer.config().clone();
    let stream_limit = producer.facts().max_record_bytes;
    let whose = match (args.max_record_bytes, stream_limit) {
        (Some(_), _) => "--max-record-bytes",
        (None, Some(_)) => "the stream's",
        (None, None) => "the default; --max-record-bytes where the stream takes more",
    };
    check_size(args.size, config.max_record_bytes, whose)?;
    if let (Some(asked), Some(limit)) = (args.max_record_bytes, stream_limit) {
        if asked > limit {
            eprintln!("note: --max-record-bytes {asked} is over what stream {stream} takes ({limit} bytes): larger records will fail");
        }
    }
    if producer.facts().auto_distribution {
        eprintln!(
            "note: stream {stream} places records itself (AUTO record distribution): partition keys and explicit hash keys choose no shard, so --key {} only names the records; kwb spreads them over the shards in turn",
            args.key
        );
    }
    let metrics = producer.metrics().clone();
    let facts = producer.facts().clone();
    let bar = progress_bar(&args);

    let (outcomes, pending) = mpsc::unbounded_channel::<Resolved>();
    let hot_keys = args
        .hotkeys
        .then(|| HotKeys::new(producer.shard_map().shards().iter().cloned()));
    let tally = tokio::spawn(tally_outcomes(
        pending,
        bar.clone(),
        metrics.clone(),
        hot_keys,
    ));

    let keys = KeyPicker::new(strategy, &producer.shard_map(), seed);
    let mut composer = Composer::new(source, keys, seed);
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
        let due = match args.rate.due(sent) {
            Due::Now => None,
            Due::At(after) => Some(start + after),
            Due::Never => {
                eprintln!("note: the --rate shape sends no more records after {sent}; stopping");
                break;
            }
        };
        if let Some(due) = due {
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
        if let Some(feed) = composer.line_feed() {
            tokio::select! {
                _ = &mut ctrl_c => { interrupted = true; break; }
                _ = feed.wait() => {}
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
        // Waiting for room in a hot shard's backlog ends at the run's end too.
        let until_end = async {
            match end {
                Some(end) => tokio::time::sleep_until(end.into()).await,
                None => std::future::pending().await,
            }
        };
        let note = args.hotkeys.then(|| KeyNote {
            key: record.partition_key.clone(),
            hash_key: record.hash_key(),
            bytes: record.billed_bytes() as u64,
        });
        tokio::select! {
            biased;
            _ = &mut ctrl_c => { interrupted = true; break; }
            _ = until_end => break,
            accepted = producer.put(record) => {
                let resolved = match accepted {
                    Ok(pending) => Resolved::Pending(pending, note),
                    Err(PutError::Stopped) => {
                        let why = producer.failure().unwrap_or_else(|| "the producer stopped".into());
                        stopped_by = Some(anyhow::anyhow!(why));
                        break;
                    }
                    Err(refused) => Resolved::Refused { label: refused.label().into(), message: refused.to_string() },
                };
                let _ = outcomes.send(resolved);
                sent += 1;
            }
        }
    }
    drop(outcomes);
    let sending = start.elapsed();
    // The producer's own map (kept fresh while it ran) lists the shards for the summary.
    let map = producer.shard_map();
    // Everything accepted resolves within its TTL, plus a request that started just before it ran
    // out; the grace covers both, so that only a producer that stopped working reports records
    // undelivered at shutdown.
    let grace = config.record_ttl + config.request_timeout + SHUTDOWN_MARGIN;
    let outstanding = producer.outstanding();
    if interrupted && outstanding > 0 {
        eprintln!(
            "interrupted: sending stopped; waiting up to {} s for {outstanding} records (Ctrl-C again to stop waiting)",
            grace.as_secs()
        );
    }
    let hurried = std::cell::Cell::new(false);
    let second_ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
        hurried.set(true);
    };
    let report = producer.shutdown_or(grace, second_ctrl_c).await;
    let interrupted = interrupted || hurried.get();
    let tally = tally.await?;
    bar.finish_and_clear();
    let open = map.open_shards().map(|s| s.shard_id.clone());
    let run = Run {
        stream,
        target: connection.target.to_string(),
        records: sent,
        elapsed: start.elapsed(),
        sending,
        interrupted,
        seed,
        api: config.api,
        facts,
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
    }
    Ok(if interrupted {
        130
    } else if summary.failed > 0 {
        1
    } else {
        0
    })
}
