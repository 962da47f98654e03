//! `kwb serve` and `kwb reset`: the local server in the foreground, and clearing its data.

use crate::cli::streams::confirm;
use crate::kinesis::embedded::EMBEDDED_REGION;
use crate::kinesis::local::{data_dir, host_or_attach, reset, Local};
use clap::Args;
use std::io::Write;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Loopback port to listen on (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Clear without asking.
    #[arg(long)]
    pub yes: bool,
}

/// Serves the local data folder until Ctrl-C or SIGTERM; the first line is the endpoint.
pub async fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let dir = data_dir()?;
    let local = host_or_attach(&dir, args.port).await?;
    if let Local::Attached { endpoint } = &local {
        anyhow::bail!(
            "another kwb process already serves {} at {endpoint}",
            dir.display()
        );
    }
    let endpoint = local.endpoint();
    let mut out = std::io::stdout().lock();
    writeln!(out, "endpoint: {endpoint}")?;
    writeln!(out, "data: {}", dir.display())?;
    writeln!(
        out,
        "region {EMBEDDED_REGION}, any credentials; e.g. AWS_ENDPOINT_URL={endpoint} aws kinesis list-streams"
    )?;
    out.flush()?;
    drop(out);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    drop(local);
    Ok(0)
}

pub fn reset_data(args: ResetArgs) -> anyhow::Result<i32> {
    let dir = data_dir()?;
    if !args.yes
        && !confirm(&format!(
            "delete every stream and record in {}?",
            dir.display()
        ))?
    {
        eprintln!("nothing deleted");
        return Ok(1);
    }
    reset(&dir)?;
    eprintln!("cleared {}", dir.display());
    Ok(0)
}
