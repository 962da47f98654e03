//! `kwb hotkeys`: per shard, the partition keys that carry its records and what to do about a hot
//! shard, over the stream as read back from a start position (any producer's records).

use crate::cli::shard_map_of;
use crate::cli::{StreamArgs, TargetFlags};
use crate::hot_keys::report::Report;
use crate::hot_keys::{HotKeys, COUNTERS};
use crate::kinesis::hash_key::HashKey;
use crate::kinesis::open::Missing;
use crate::kinesis::reader::{read, ReadOptions, StartAt};
use clap::Args;
use tokio::sync::mpsc;

#[derive(Debug, Args)]
pub struct HotKeysArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    /// Where to start reading: trim-horizon (the default), a time (RFC 3339 or epoch seconds:
    /// records that arrived since), or a sequence number (with --shard).
    #[arg(long, value_name = "POSITION", allow_hyphen_values = true)]
    pub from: Option<StartAt>,
    /// Read only this shard.
    #[arg(long, value_name = "SHARD_ID")]
    pub shard: Option<String>,
    /// Keys shown per shard, 1 to 1024.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=COUNTERS as i64), allow_hyphen_values = true)]
    pub top: u16,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The hash key a read record was routed by.
fn routed_by(partition_key: &str, explicit_hash_key: Option<&str>) -> HashKey {
    explicit_hash_key
        .and_then(|k| HashKey::parse_explicit(k).ok())
        .unwrap_or_else(|| HashKey::of_partition_key(partition_key))
}

pub async fn run(target: &TargetFlags, args: HotKeysArgs) -> anyhow::Result<i32> {
    if args.from == Some(StartAt::Latest) {
        anyhow::bail!(
            "--from latest reads nothing: hotkeys counts what is in the stream (give a time, or leave --from out for all of it)"
        );
    }
    let connection = args.stream.open(target, Missing::Fail).await?;
    let stream = &args.stream.stream;
    let map = shard_map_of(&connection, stream).await?;
    if let Some(shard) = args.shard.as_ref().filter(|s| map.get(s).is_none()) {
        anyhow::bail!("--shard {shard:?} is not a shard of {stream} (kwb shards lists them)");
    }
    let options = ReadOptions {
        stream: stream.clone(),
        shard: args.shard.clone(),
        start: args.from.clone().unwrap_or(StartAt::TrimHorizon),
        follow: false,
        efo: false,
    };
    let (tx, mut rx) = mpsc::channel(1024);
    let client = connection.admin.clone();
    let reader = tokio::spawn(async move { read(&client, &options, tx).await });
    let mut keys = HotKeys::new(
        map.shards()
            .iter()
            .filter(|s| args.shard.as_ref().is_none_or(|only| *only == s.shard_id))
            .cloned(),
    );
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    loop {
        tokio::select! {
            record = rx.recv() => {
                let Some(r) = record else { break };
                keys.add(
                    &r.shard_id,
                    &r.partition_key,
                    routed_by(&r.partition_key, r.explicit_hash_key.as_deref()),
                    (r.data.len() + r.partition_key.len()) as u64,
                    !r.aggregated || r.sub_sequence_number == 0,
                    r.arrival_time,
                );
            }
            _ = &mut ctrl_c => {
                interrupted = true;
                break;
            }
        }
    }
    drop(rx);
    if !interrupted {
        reader.await?.map_err(|message| anyhow::anyhow!(message))?;
    }
    // An on-demand stream gets advice without resharding by hand (unknown: as provisioned).
    let on_demand = crate::kinesis::admin::describe(&connection.admin, stream)
        .await
        .is_ok_and(|s| s.facts().on_demand);
    let mut report = Report::new(stream, &keys, args.top.into(), on_demand);
    report.interrupted = interrupted;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(if interrupted { 130 } else { 0 })
}
