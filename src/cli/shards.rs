//! `kwb shards`: the shard map as a table or JSON.

use crate::cli::shard_map_of;
use crate::cli::{StreamArgs, TargetFlags};
use crate::kinesis::open::Missing;
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct ShardsArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(target: &TargetFlags, args: ShardsArgs) -> anyhow::Result<i32> {
    let connection = args.stream.open(target, Missing::Fail).await?;
    let map = shard_map_of(&connection, &args.stream.stream).await?;
    if args.json {
        let shards: Vec<_> = map
            .shards()
            .iter()
            .map(|s| {
                json!({
                    "shard_id": s.shard_id,
                    "open": s.open,
                    "starting_hash_key": s.starting_hash_key.to_string(),
                    "ending_hash_key": s.ending_hash_key.to_string(),
                    "share": s.share_of_key_space(),
                    "parent_shard_id": s.parent_shard_id,
                })
            })
            .collect();
        println!(
            "{}",
            json!({"stream": args.stream.stream, "target": connection.target.to_string(), "shards": shards})
        );
    } else {
        println!(
            "stream {} on {}: {} open of {} shards",
            args.stream.stream,
            connection.target,
            map.open_count(),
            map.shards().len()
        );
        println!(
            "{:<22} {:<6} {:>7}  {:>39}  {:>39}  parent",
            "shard", "state", "share", "starting hash key", "ending hash key"
        );
        for s in map.shards() {
            println!(
                "{:<22} {:<6} {:>6.2}%  {:>39}  {:>39}  {}",
                s.shard_id,
                if s.open { "open" } else { "closed" },
                s.share_of_key_space() * 100.0,
                s.starting_hash_key,
                s.ending_hash_key,
                s.parent_shard_id.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(0)
}
