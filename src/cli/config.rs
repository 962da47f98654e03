//! Reading the command line with the profile applied, and `kwb config path|show`.

use crate::cli::{Cli, TargetFlags};
use crate::config::{self, redact_url, Chosen, EndpointUrl, Profile};
use crate::kinesis::client::{Endpoints, NamedEndpoint, TargetArgs};
use clap::{Args, CommandFactory, FromArgMatches, Subcommand};
use serde_json::json;
use std::ffi::OsString;
use std::path::PathBuf;

/// The profiles file and the profile in effect.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub file: PathBuf,
    pub chosen: Option<Chosen>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// The profiles file's path.
    Path,
    /// The profile in effect and every setting it gives, with the environment's overrides.
    Show,
}

/// The value of `--profile` on the command line, if any, before clap has parsed it.
fn profile_flag(args: &[OsString]) -> Option<String> {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    args.iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--profile=") {
            Some(v) => Some(v.to_string()),
            None if a == "--profile" => args.get(i + 1).cloned(),
            None => None,
        })
}

/// Makes the profile's values the command line's defaults, so flags and the environment win.
fn with_profile_defaults(mut command: clap::Command, p: &Profile) -> clap::Command {
    // The workbench's own stream flags, on the top-level command.
    if let Some(stream) = &p.stream {
        command = command.mut_arg("stream", |a| a.default_value(stream.clone()));
    }
    if let Some(shards) = p.shards {
        command = command.mut_arg("shards", |a| a.default_value(shards.to_string()));
    }
    let mut set = |sub: &str, arg: &'static str, value: Option<String>| {
        if let Some(value) = value {
            command = std::mem::take(&mut command)
                .mut_subcommand(sub, |s| s.mut_arg(arg, |a| a.default_value(value)));
        }
    };
    for sub in ["put", "read", "shards", "shard-of"] {
        set(sub, "stream", p.stream.clone());
        set(sub, "shards", p.shards.map(|n| n.to_string()));
    }
    set("put", "key", p.key.clone());
    set("put", "rate", p.rate.clone());
    set(
        "put",
        "template",
        p.template.as_ref().map(|t| t.display().to_string()),
    );
    set("put", "rate_limit", p.rate_limit.map(|v| v.to_string()));
    set(
        "put",
        "max_buffered_ms",
        p.max_buffered_ms.map(|v| v.to_string()),
    );
    set("put", "record_ttl", p.record_ttl.map(|v| v.to_string()));
    set(
        "put",
        "max_record_bytes",
        p.max_record_bytes.map(|v| v.to_string()),
    );
    set("put", "no_aggregate", p.aggregate.map(|a| (!a).to_string()));
    command
}

/// Parses `args` with the chosen profile applied.
pub fn parse_from(args: Vec<OsString>) -> anyhow::Result<(Cli, Loaded)> {
    let file = config::path();
    let file_config = config::load(&file)?;
    let flag = profile_flag(&args);
    let env = std::env::var("KWB_PROFILE").ok().filter(|p| !p.is_empty());
    let chosen = file_config.choose(&file, flag.as_deref(), env.as_deref())?;
    let mut command = Cli::command();
    if let Some(chosen) = &chosen {
        command = with_profile_defaults(command, &chosen.profile);
    }
    let matches = command.get_matches_from(args);
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let Some(chosen) = &chosen {
        let profile = &chosen.profile;
        // `--profile NAME` chose this kwb profile: it is not also an AWS profile name.
        if chosen.source == "--profile" {
            cli.target.profile = None;
        }
        if cli.target.profile.is_none() && std::env::var_os("AWS_PROFILE").is_none() {
            cli.target.profile = profile.aws_profile.clone();
        }
        cli.target.profile_endpoint_url = profile.endpoint_url.clone();
        cli.target.profile_cloudwatch_endpoint_url = profile.cloudwatch_endpoint_url.clone();
        cli.target.profile_region = profile.region.clone();
    }
    Ok((cli, Loaded { file, chosen }))
}

pub fn run(args: ConfigArgs, target: &TargetFlags, loaded: Loaded) -> anyhow::Result<i32> {
    match args.action {
        ConfigAction::Path => println!("{}", loaded.file.display()),
        ConfigAction::Show => {
            let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            let secret = |name: &str| env(name).map(|_| "set (redacted)");
            let (name, source, profile) = match &loaded.chosen {
                Some(c) => (Some(c.name.clone()), Some(c.source), Some(&c.profile)),
                None => (None, None, None),
            };
            let mut profile = profile.cloned().unwrap_or_default();
            let redacted = |u: Option<EndpointUrl>| u.map(|u| EndpointUrl(redact_url(&u.0)));
            profile.endpoint_url = redacted(profile.endpoint_url);
            profile.cloudwatch_endpoint_url = redacted(profile.cloudwatch_endpoint_url);
            let endpoints = Endpoints::of(&TargetArgs::from(target));
            let effective = |e: Option<&NamedEndpoint>| e.map(|(_, url)| redact_url(url));
            let shown = json!({
                "file": loaded.file.display().to_string(),
                "profile": name,
                "chosen_by": source,
                "settings": profile,
                "target": {
                    "endpoint_url": effective(endpoints.kinesis.as_ref()),
                    "cloudwatch_endpoint_url": effective(endpoints.cloudwatch_or_kinesis()),
                    "aws_profile": target.profile,
                    "region": target.region.clone().or_else(|| env("AWS_REGION")).or(target.profile_region.clone()),
                },
                "environment": {
                    "KWB_STREAM": env("KWB_STREAM"),
                    "AWS_ACCESS_KEY_ID": secret("AWS_ACCESS_KEY_ID"),
                    "AWS_SECRET_ACCESS_KEY": secret("AWS_SECRET_ACCESS_KEY"),
                    "AWS_SESSION_TOKEN": secret("AWS_SESSION_TOKEN"),
                },
            });
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
    }
    Ok(0)
}
