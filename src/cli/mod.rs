//! The command line: flags, dispatch, and how errors reach the user.

pub mod config;
pub mod demo;
pub mod hotkeys;
pub mod local;
pub mod metrics;
pub mod put;
pub mod read;
pub mod shards;
pub mod streams;
pub mod summary;

use crate::config::EndpointUrl;
use crate::kinesis::client::{Connection, TargetArgs};
use crate::kinesis::open::{open_stream, Missing};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub const DEFAULT_STREAM: &str = "kwb-demo";

const EXAMPLES: &str = "\
With no command, kwb opens the workbench on the stream (keys: space send, +/- rate, k key strategy,
? help, q quit).

Examples:
  kwb                                        the workbench on the local server's kwb-demo stream
  kwb --profile prod --stream orders         the workbench on a real stream
  kwb put --count 10000                      10,000 records into the embedded server
  kwb put --key fixed:hot --duration 10      one hot shard for ten seconds
  kwb put --rate 500 --count 5000 --json     500 records/s, summary as JSON
  kwb put --shards 8 --count 0               create an 8-shard stream (only put and the workbench create)
  kwb shards                                 the stream's shard map
  kwb --endpoint-url http://127.0.0.1:4567 put --stream orders
  kwb --profile prod --region eu-west-1 shards --stream orders

With no target named (--endpoint-url, AWS_ENDPOINT_URL[_KINESIS], --profile, --region, AWS_PROFILE
or --aws), kwb uses a local Kinesis-compatible server held by a background `kwb serve` (started by
the first command that needs it, stopped after 30 idle minutes) and creates the stream there.";

#[derive(Debug, Parser)]
#[command(
    name = "kwb",
    version,
    about = "A workbench for Amazon Kinesis Data Streams",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetFlags,
    /// Write logs to this file (kwb never logs to the screen).
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// The stream the workbench opens when no command is given.
    #[command(flatten)]
    pub workbench: StreamArgs,
    /// Seed of the workbench's random keys and data: printed when it exits, and `kwb --seed N`
    /// repeats a session's records (default: a fresh one each session).
    #[arg(long, allow_hyphen_values = true)]
    pub seed: Option<u64>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct TargetFlags {
    /// A kwb profile from the profiles file (kwb config path), or else an AWS profile from the
    /// shared AWS config files.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// A Kinesis-compatible endpoint (LocalStack, kinesalite, ferrokinesis, ...), for Kinesis
    /// only; CloudWatch goes there too only when no endpoint is named for it.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<EndpointUrl>,
    /// A CloudWatch-compatible endpoint for the stream's metrics (also AWS_ENDPOINT_URL_CLOUDWATCH
    /// or the profile's cloudwatch_endpoint_url).
    #[arg(long, global = true, value_name = "URL")]
    pub cloudwatch_endpoint_url: Option<EndpointUrl>,
    /// Use AWS through the standard credential chain even when nothing else names it.
    #[arg(long, global = true)]
    pub aws: bool,
    /// Longest a control-plane call (describe, list, create) may take, retries included.
    #[arg(long, global = true, default_value_t = 10.0, value_name = "SECS", value_parser = positive_secs, allow_hyphen_values = true)]
    pub api_timeout: f64,
    /// Endpoint from the profile, used when neither the flag nor the environment names one.
    #[arg(skip)]
    pub profile_endpoint_url: Option<EndpointUrl>,
    /// CloudWatch's endpoint from the profile, likewise.
    #[arg(skip)]
    pub profile_cloudwatch_endpoint_url: Option<EndpointUrl>,
    /// Region from the profile, used when neither the flag nor the environment names one.
    #[arg(skip)]
    pub profile_region: Option<String>,
}

pub(crate) fn positive_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.1..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{text:?} is not a number of seconds from 0.1 to 86400"
        )),
    }
}

impl From<&TargetFlags> for TargetArgs {
    fn from(flags: &TargetFlags) -> Self {
        TargetArgs {
            profile: flags.profile.clone(),
            region: flags.region.clone(),
            endpoint_url: flags.endpoint_url.clone(),
            cloudwatch_endpoint_url: flags.cloudwatch_endpoint_url.clone(),
            aws: flags.aws,
            api_timeout: std::time::Duration::from_secs_f64(flags.api_timeout),
            profile_endpoint_url: flags.profile_endpoint_url.clone(),
            profile_cloudwatch_endpoint_url: flags.profile_cloudwatch_endpoint_url.clone(),
            profile_region: flags.profile_region.clone(),
        }
    }
}

/// The stream a command works on, and how many shards it gets if kwb creates it.
#[derive(Debug, Args, Clone)]
pub struct StreamArgs {
    /// Stream name.
    #[arg(long, env = "KWB_STREAM", hide_env_values = true, default_value = DEFAULT_STREAM)]
    pub stream: String,
    /// Shards of the stream when kwb creates it (embedded server only).
    #[arg(long, default_value_t = 4, allow_hyphen_values = true)]
    pub shards: u32,
}

impl StreamArgs {
    /// Connects to the target and makes sure the stream is there (see [`open_stream`]).
    pub async fn open(&self, target: &TargetFlags, missing: Missing) -> anyhow::Result<Connection> {
        open_stream(&target.into(), &self.stream, self.shards, missing).await
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send records through the producer and print what happened to them.
    #[command(after_help = "Examples:
  kwb put --count 10000
  kwb put --template assets/templates/clickstream.json --key field:/user_id --rate 500 --duration 60
  kwb put --key fixed:hot --rate burst:3000:5:10 --duration 60
  kwb put --lines assets/logs/app.log --key random --json
  kwb put --key help")]
    Put(Box<put::PutArgs>),
    /// Print the stream's shard map: hash ranges and each shard's share of the key space.
    #[command(after_help = "Examples:\n  kwb shards\n  kwb shards --stream orders --json")]
    Shards(shards::ShardsArgs),
    /// Serve the local streams in the foreground (first line: `endpoint: URL`) for any client.
    /// Other kwb commands start one in the background when none runs.
    #[command(
        after_help = "Examples:\n  kwb serve --port 4567\n  AWS_ENDPOINT_URL=http://127.0.0.1:4567 aws kinesis list-streams"
    )]
    Serve(local::ServeArgs),
    /// Delete every stream on the local server.
    #[command(after_help = "Examples:\n  kwb reset\n  kwb reset --yes")]
    Reset(local::ResetArgs),
    /// Where the profiles file is, and the settings in effect (secrets redacted).
    #[command(after_help = "Examples:\n  kwb config path\n  kwb --profile prod config show")]
    Config(config::ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    #[command(
        after_help = "Examples:\n  kwb completions bash > ~/.local/share/bash-completion/completions/kwb\n  kwb completions zsh > ~/.zfunc/_kwb"
    )]
    Completions { shell: clap_complete::Shell },
    /// List, describe, create or delete streams; split, merge or scale their shards.
    #[command(
        after_help = "Examples:\n  kwb streams\n  kwb streams describe orders --json\n  kwb streams create orders --shards 8\n  kwb streams create clicks --on-demand\n  kwb streams delete orders --yes\n  kwb streams split orders shardId-000000000001\n  kwb streams merge orders shardId-000000000004 shardId-000000000005 --yes\n  kwb streams scale orders 8 --yes"
    )]
    Streams(streams::StreamsArgs),
    /// The hash key and shard of each partition key.
    #[command(
        after_help = "Examples:\n  kwb shard-of user-1 user-2 user-3\n  kwb shard-of --stream orders --json c-42"
    )]
    ShardOf(streams::ShardOfArgs),
    /// Read records back from the stream, deaggregated (to the current end, or --follow).
    #[command(alias = "tail")]
    #[command(
        after_help = "Examples:\n  kwb read --limit 20\n  kwb tail --follow --format json\n  kwb read --shard shardId-000000000001 --from 2026-11-25T19:00:00Z --json"
    )]
    Read(read::ReadArgs),
    /// What the stream saw per shard, from every producer: incoming records, bytes and write
    /// throttles from the embedded server's own counts or from CloudWatch.
    #[command(
        after_help = "Examples:\n  kwb metrics\n  kwb metrics --watch --minutes 1\n  kwb metrics --json\n  kwb --profile prod metrics --stream orders --source cloudwatch --minutes 60 --csv\n  kwb --profile prod metrics --stream orders --enable-shard-metrics"
    )]
    Metrics(metrics::MetricsArgs),
    /// Per shard, the partition keys that carry its records (from the stream read back) and
    /// one line of advice for each hot shard.
    #[command(
        after_help = "Examples:\n  kwb hotkeys\n  kwb hotkeys --stream orders --from 2026-11-25T19:00:00Z --top 10\n  kwb hotkeys --json"
    )]
    Hotkeys(hotkeys::HotKeysArgs),
    /// Guided scenarios of producing into a stream: list them, open one in the workbench, or
    /// run one headless and check what each stage claims.
    #[command(
        after_help = "Examples:\n  kwb demo\n  kwb demo hot-key\n  kwb demo split-hot-shard --headless\n  kwb demo three-apis --headless --json\n  kwb demo my-scenario.toml"
    )]
    Demo(demo::DemoArgs),
}

/// The stream's shard map, or an error that says ListShards failed and why.
pub(crate) async fn shard_map_of(
    connection: &Connection,
    stream: &str,
) -> anyhow::Result<crate::kinesis::shard_map::ShardMap> {
    crate::kinesis::shard_map::list_shards(&connection.admin, stream)
        .await
        .map_err(|e| anyhow::anyhow!("ListShards failed: {}", crate::errors::describe(&e)))
}

/// Runs a parsed command line; the result is the process's exit code.
pub async fn run(cli: Cli, loaded: config::Loaded) -> anyhow::Result<i32> {
    let Some(command) = cli.command else {
        let workbench = &cli.workbench;
        return crate::tui::run(
            &(&cli.target).into(),
            &workbench.stream,
            workbench.shards,
            cli.seed,
            None,
        )
        .await;
    };
    if cli.seed.is_some() {
        anyhow::bail!(
            "--seed before a command seeds the workbench; give it after the command (kwb put --seed N)"
        );
    }
    match command {
        Command::Put(args) => put::run(&cli.target, *args).await,
        Command::Shards(args) => shards::run(&cli.target, args).await,
        Command::Read(args) => read::run(&cli.target, args).await,
        Command::Metrics(args) => metrics::run(&cli.target, args).await,
        Command::Hotkeys(args) => hotkeys::run(&cli.target, args).await,
        Command::Demo(args) => demo::run(&cli.target, args).await,
        Command::Streams(args) => streams::run(&cli.target, args).await,
        Command::Config(args) => config::run(args, &cli.target, loaded),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "kwb", &mut std::io::stdout());
            Ok(0)
        }
        Command::Serve(args) => local::serve(args).await,
        Command::Reset(args) => local::reset_data(&cli.target, args).await,
        Command::ShardOf(args) => streams::shard_of(&cli.target, args).await,
    }
}
