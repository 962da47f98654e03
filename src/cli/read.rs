//! `kwb read` (alias `tail`): records back from a stream, deaggregated, as text or JSON lines.

use crate::cli::{StreamArgs, TargetFlags};
use crate::kinesis::open::Missing;
use crate::kinesis::reader::{read, ReadOptions, ReadRecord, StartAt};
use base64::Engine;
use clap::{Args, ValueEnum};
use serde_json::json;
use std::io::Write;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DataFormat {
    Text,
    Json,
    Hex,
    Base64,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    /// Read only this shard.
    #[arg(long, value_name = "SHARD_ID")]
    pub shard: Option<String>,
    /// Where to start: trim-horizon, latest, a time (RFC 3339 or epoch seconds) or a sequence
    /// number (with --shard). Default: trim-horizon, or latest with --follow.
    #[arg(long, value_name = "POSITION", allow_hyphen_values = true)]
    pub from: Option<StartAt>,
    /// Keep reading new records (and the children of split or merged shards) until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    /// Read with enhanced fan-out: a consumer of kwb's own (deregistered on exit) and
    /// SubscribeToShard, instead of GetRecords.
    #[arg(long)]
    pub efo: bool,
    /// Stop after this many user records.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub limit: Option<u64>,
    /// How to show record data in text output.
    #[arg(long, value_enum, default_value = "text")]
    pub format: DataFormat,
    /// One JSON object per line per user record, with the data in base64.
    #[arg(long)]
    pub json: bool,
    /// Also show the records a KCL consumer never sees, marked: the KCL drops an aggregate whole
    /// when any of its records hashes outside the shard it was read from. Without this flag they
    /// are left out and counted on stderr.
    #[arg(long)]
    pub show_dropped: bool,
}

fn arrival(record: &ReadRecord) -> String {
    record
        .arrival_time
        .map(|t| humantime::format_rfc3339_millis(t).to_string())
        .unwrap_or_default()
}

fn render_data(data: &[u8], format: DataFormat) -> String {
    match format {
        DataFormat::Text => String::from_utf8_lossy(data).escape_debug().to_string(),
        DataFormat::Json => match serde_json::from_slice::<serde_json::Value>(data) {
            Ok(value) => value.to_string(),
            Err(_) => String::from_utf8_lossy(data).escape_debug().to_string(),
        },
        DataFormat::Hex => data.iter().map(|b| format!("{b:02x}")).collect(),
        DataFormat::Base64 => base64::engine::general_purpose::STANDARD.encode(data),
    }
}

/// One output line for a record.
pub fn line(record: &ReadRecord, json_lines: bool, format: DataFormat) -> String {
    if json_lines {
        json!({
            "shard_id": record.shard_id,
            "partition_key": record.partition_key,
            "explicit_hash_key": record.explicit_hash_key,
            "sequence_number": record.sequence_number,
            "sub_sequence_number": record.sub_sequence_number,
            "aggregated": record.aggregated,
            "arrival_time": arrival(record),
            "data": base64::engine::general_purpose::STANDARD.encode(&record.data),
            "kcl_drops": record.kcl_drops,
        })
        .to_string()
    } else {
        format!(
            "{}{} {}/{} {} {} {}",
            if record.kcl_drops {
                "[dropped by the KCL] "
            } else {
                ""
            },
            record.shard_id,
            record.sequence_number,
            record.sub_sequence_number,
            record.partition_key,
            arrival(record),
            render_data(&record.data, format)
        )
    }
}

pub async fn run(target: &TargetFlags, args: ReadArgs) -> anyhow::Result<i32> {
    let connection = args.stream.open(target, Missing::Fail).await?;
    let options = ReadOptions {
        stream: args.stream.stream.clone(),
        shard: args.shard.clone(),
        start: args.from.clone().unwrap_or(if args.follow {
            StartAt::Latest
        } else {
            StartAt::TrimHorizon
        }),
        follow: args.follow,
        efo: args.efo,
    };
    let (tx, mut rx) = mpsc::channel(1024);
    let client = connection.admin.clone();
    let reader = tokio::spawn(async move { read(&client, &options, tx).await });
    let limit = args.limit.unwrap_or(u64::MAX);
    let mut shown = 0u64;
    let mut dropped = 0u64;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_error: Option<std::io::Error> = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while shown < limit {
        tokio::select! {
            record = rx.recv() => {
                let Some(record) = record else { break };
                if record.kcl_drops && !args.show_dropped {
                    dropped += 1;
                    continue;
                }
                let written = writeln!(out, "{}", line(&record, args.json, args.format))
                    .and_then(|()| if args.follow { out.flush() } else { Ok(()) });
                if let Err(e) = written {
                    write_error = Some(e);
                    break;
                }
                shown += 1;
            }
            _ = &mut ctrl_c => break,
        }
    }
    if let Err(e) = out.flush() {
        write_error.get_or_insert(e);
    }
    drop(rx);
    match write_error {
        // Whoever read the output stopped (e.g. `| head`): not an error of kwb's.
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
        Some(e) => anyhow::bail!("could not write the records to standard output: {e}"),
        None => {}
    }
    if dropped > 0 {
        eprintln!(
            "note: {dropped} records not shown: they are in aggregates with a record outside the shard they were read from, which a KCL consumer drops whole (--show-dropped shows them, marked)"
        );
    }
    match reader.await? {
        Ok(()) => Ok(0),
        Err(message) if shown >= limit => {
            tracing::debug!(%message, "reader stopped after the limit");
            Ok(0)
        }
        Err(message) => Err(anyhow::anyhow!(message)),
    }
}
