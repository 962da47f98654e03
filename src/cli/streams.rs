//! `kwb streams`: list, describe, create and delete streams; `kwb shard-of`: where keys land.

use crate::cli::shard_map_of;
use crate::cli::{StreamArgs, TargetFlags, DEFAULT_STREAM};
use crate::kinesis::admin::{self, Capacity};
use crate::kinesis::client::{connect, Connection};
use crate::kinesis::hash_key::{validate_partition_key, HashKey};
use crate::kinesis::open::Missing;
use crate::kinesis::reshard::{self, refuse_on_demand, Reshard};
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};

#[derive(Debug, Args)]
pub struct StreamsArgs {
    #[command(subcommand)]
    pub action: Option<StreamsAction>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum StreamsAction {
    /// Every stream's name (the default).
    List,
    /// Mode, shards, retention, encryption, enhanced monitoring and maximum record size.
    Describe {
        #[arg(default_value = DEFAULT_STREAM)]
        name: String,
    },
    /// Create a stream and wait until it is ACTIVE.
    Create {
        name: String,
        /// Provisioned shards.
        #[arg(
            long,
            default_value_t = 4,
            conflicts_with = "on_demand",
            allow_hyphen_values = true
        )]
        shards: u32,
        /// On-demand capacity instead of provisioned shards.
        #[arg(long)]
        on_demand: bool,
    },
    /// Delete a stream (asks first unless --yes).
    Delete {
        name: String,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Split an open shard in two at a hash key (asks first, showing both halves, unless --yes)
    /// and wait until the stream is ACTIVE again.
    Split {
        name: String,
        shard_id: String,
        /// Where the second half starts (a decimal hash key within the shard's range; default:
        /// the middle). `kwb hotkeys` gives the one that halves the shard's traffic.
        #[arg(long, value_name = "HASH_KEY", value_parser = parse_hash_key)]
        at: Option<HashKey>,
        /// Split without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Merge two adjacent open shards into one (asks first unless --yes) and wait until the
    /// stream is ACTIVE again.
    Merge {
        name: String,
        shard_id: String,
        adjacent_shard_id: String,
        /// Merge without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Set the number of open shards, of equal ranges (from half to double the open shards; asks
    /// first unless --yes), and wait until the stream is ACTIVE again.
    Scale {
        name: String,
        #[arg(allow_hyphen_values = true, value_parser = parse_shard_count)]
        count: u32,
        /// Scale without asking.
        #[arg(long)]
        yes: bool,
    },
}

fn parse_shard_count(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=admin::MAX_SHARDS_EMBEDDED).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?} is not a shard count to scale to: 1 to {}",
            admin::MAX_SHARDS_EMBEDDED
        )),
    }
}

fn parse_hash_key(text: &str) -> Result<HashKey, String> {
    HashKey::parse_explicit(text).map_err(|e| e.to_string())
}

/// Asks a yes/no question on the terminal; anything but y/yes is no.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("no terminal to ask on (\"{question}\"): pass --yes to confirm");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}

pub async fn run(target: &TargetFlags, args: StreamsArgs) -> anyhow::Result<i32> {
    let action = args.action.unwrap_or(StreamsAction::List);
    if let StreamsAction::Describe { name }
    | StreamsAction::Create { name, .. }
    | StreamsAction::Delete { name, .. }
    | StreamsAction::Split { name, .. }
    | StreamsAction::Merge { name, .. }
    | StreamsAction::Scale { name, .. } = &action
    {
        admin::validate_stream_name(name)?;
    }
    let connection = connect(&target.into()).await?;
    act(&connection, action, args.json)
        .await
        .map_err(|e| anyhow::anyhow!("{e:#} (target: {})", connection.target))
}

/// Carries out one `kwb streams` action on a connected target.
async fn act(connection: &Connection, action: StreamsAction, json: bool) -> anyhow::Result<i32> {
    let client = &connection.admin;
    match action {
        StreamsAction::List => {
            let names = admin::list_streams(client).await?;
            if json {
                println!("{}", json!({ "streams": names }));
            } else {
                names.iter().for_each(|n| println!("{n}"));
            }
        }
        StreamsAction::Describe { name } => {
            let summary = admin::describe(client, &name).await?;
            if json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                let metrics = if summary.shard_level_metrics.is_empty() {
                    "off".to_string()
                } else {
                    summary.shard_level_metrics.join(", ")
                };
                let max = summary
                    .max_record_size_kib
                    .map_or("1024 KiB (default)".to_string(), |k| format!("{k} KiB"));
                let capacity = match (summary.facts().on_demand, summary.write_capacity_mibps) {
                    (true, Some(mibps)) => format!("\nwrite capacity    {mibps} MiB/s (on-demand: grows with traffic, up to twice its previous peak at once)"),
                    (true, None) => "\nwrite capacity    set by Kinesis (on-demand: 4 MiB/s at first, grows with traffic)".to_string(),
                    _ => String::new(),
                };
                let placement = if summary.facts().auto_distribution {
                    "AUTO (Kinesis places records itself: partition keys and explicit hash keys choose no shard)"
                } else {
                    "USER_PARTITION_KEY (partition keys and explicit hash keys choose the shard)"
                };
                println!("stream            {}\narn               {}\nstatus            {}\nmode              {}{capacity}\nopen shards       {}\nretention         {} h\nencryption        {}\nshard metrics     {metrics}\nmax record size   {max}\nrecord placement  {placement}",
                    summary.name, summary.arn, summary.status, summary.mode, summary.open_shards,
                    summary.retention_hours, summary.encryption);
            }
        }
        StreamsAction::Create {
            name,
            shards,
            on_demand,
        } => {
            let capacity = if on_demand {
                if connection.is_embedded() {
                    anyhow::bail!(
                        "the local server has no on-demand streams (it needs a shard count): use --shards N here, or --on-demand on an AWS target"
                    );
                }
                Capacity::OnDemand
            } else {
                Capacity::Shards(shards)
            };
            admin::create_stream(client, &name, capacity).await?;
            eprintln!("created {name} on {}", connection.target);
        }
        StreamsAction::Delete { name, yes } => {
            if !yes && !confirm(&format!("delete stream {name} on {}?", connection.target))? {
                eprintln!("not deleted");
                return Ok(1);
            }
            admin::delete_stream(client, &name).await?;
            eprintln!("deleted {name}");
        }
        StreamsAction::Split {
            name,
            shard_id,
            at,
            yes,
        } => {
            let change = Reshard::Split {
                shard: shard_id,
                at,
            };
            return reshard(connection, &name, &change, yes, json).await;
        }
        StreamsAction::Merge {
            name,
            shard_id,
            adjacent_shard_id,
            yes,
        } => {
            let change = Reshard::Merge {
                shard: shard_id,
                adjacent: adjacent_shard_id,
            };
            return reshard(connection, &name, &change, yes, json).await;
        }
        StreamsAction::Scale { name, count, yes } => {
            return reshard(connection, &name, &Reshard::Scale { count }, yes, json).await;
        }
    }
    Ok(0)
}

/// Plans a change to the stream's shards, asks (unless `yes`), carries it out and shows the open
/// shards after it.
async fn reshard(
    connection: &Connection,
    stream: &str,
    change: &Reshard,
    yes: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let client = &connection.admin;
    admin::wait_active(client, stream, RESHARD_WAIT).await?;
    refuse_on_demand(client, stream).await?;
    let before = shard_map_of(connection, stream).await?;
    let plan = reshard::plan(stream, &before, change)?;
    eprintln!("{} on {}", plan.description, connection.target);
    if !yes && !confirm("go ahead?")? {
        eprintln!("not changed");
        return Ok(1);
    }
    reshard::apply(client, stream, &plan, RESHARD_WAIT).await?;
    let after = shard_map_of(connection, stream).await?;
    let open: Vec<&str> = after.open_shards().map(|s| s.shard_id.as_str()).collect();
    if json {
        println!(
            "{}",
            json!({"stream": stream, "done": plan.description, "open_shards": open})
        );
    } else {
        println!("done: {}", plan.description);
        println!("open shards now: {}", open.join(", "));
    }
    Ok(0)
}

/// How long a reshard may take to leave the stream ACTIVE again (AWS: seconds to minutes).
const RESHARD_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Debug, Args)]
pub struct ShardOfArgs {
    /// Partition keys.
    #[arg(required = true)]
    pub keys: Vec<String>,
    #[command(flatten)]
    pub stream: StreamArgs,
    #[arg(long)]
    pub json: bool,
}

/// `kwb shard-of KEY...`: each key's hash key and the shard that owns it.
pub async fn shard_of(target: &TargetFlags, args: ShardOfArgs) -> anyhow::Result<i32> {
    for key in &args.keys {
        validate_partition_key(key).map_err(|e| anyhow::anyhow!("{key:?}: {e}"))?;
    }
    let connection = args.stream.open(target, Missing::Fail).await?;
    let map = shard_map_of(&connection, &args.stream.stream).await?;
    for key in &args.keys {
        let hash = HashKey::of_partition_key(key);
        let shard = map.shard_for(hash).map_or("-", |s| s.shard_id.as_str());
        if args.json {
            println!(
                "{}",
                json!({"partition_key": key, "hash_key": hash.to_string(), "shard_id": shard})
            );
        } else {
            println!("{key}\t{hash}\t{shard}");
        }
    }
    Ok(0)
}
