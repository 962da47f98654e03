//! `kwb serve` and `kwb reset`: the local server in the foreground, and clearing its streams.

use crate::cli::streams::confirm;
use crate::cli::TargetFlags;
use crate::config::EndpointUrl;
use crate::kinesis::admin;
use crate::kinesis::client::{connect, TargetArgs};
use crate::kinesis::embedded::EMBEDDED_REGION;
use crate::kinesis::local::{data_dir, hold, running};
use clap::Args;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Loopback port to listen on (default: any free port).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub port: u16,
    /// Stop after this many seconds without a request (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    pub idle_exit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Clear without asking.
    #[arg(long)]
    pub yes: bool,
}

/// Serves the local streams until Ctrl-C, SIGTERM or the idle limit; the first line is the
/// endpoint.
pub async fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let dir = data_dir()?;
    let held = hold(&dir, args.port).await?;
    let endpoint = held.server.endpoint();
    // Whoever started us may stop reading after the first line: a closed stdout is no reason
    // to stop serving.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "endpoint: {endpoint}");
    let _ = writeln!(
        out,
        "region {EMBEDDED_REGION}, any credentials; e.g. AWS_ENDPOINT_URL={endpoint} aws kinesis list-streams"
    );
    let _ = out.flush();
    drop(out);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let idle_limit = args.idle_exit.map(Duration::from_secs);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = tick.tick() => {
                if idle_limit.is_some_and(|limit| held.server.idle_for() >= limit) {
                    break;
                }
            }
        }
    }
    Ok(0)
}

/// Deletes every stream on the local server, if one runs.
pub async fn reset_data(flags: &TargetFlags, args: ResetArgs) -> anyhow::Result<i32> {
    if TargetArgs::from(flags).names_a_target() {
        anyhow::bail!(
            "kwb reset clears the local server only, and a target is named (an endpoint, profile, region or --aws); to delete a stream there: kwb streams delete NAME"
        );
    }
    let dir = data_dir()?;
    let Some(endpoint) = running(&dir).await? else {
        eprintln!("no local server runs: there is nothing to clear");
        return Ok(0);
    };
    if !args.yes
        && !confirm(&format!(
            "delete every stream on the local server at {endpoint}?"
        ))?
    {
        eprintln!("nothing deleted");
        return Ok(1);
    }
    let target = TargetArgs {
        endpoint_url: Some(EndpointUrl(endpoint.clone())),
        ..TargetArgs::default()
    };
    let connection = connect(&target).await?;
    let streams = admin::list_streams(&connection.admin).await?;
    for stream in &streams {
        admin::delete_stream(&connection.admin, stream).await?;
    }
    eprintln!("deleted {} streams from {endpoint}", streams.len());
    Ok(0)
}
