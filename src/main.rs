//! The `kwb` binary: parse the command line, run it, report errors on stderr.

use kwb::cli::config::parse_from;
use kwb::cli::run;
use std::process::ExitCode;

fn init_logging(path: Option<&std::path::Path>) -> anyhow::Result<()> {
    if let Some(path) = path {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("--log-file {}: {e}", path.display()))?;
        tracing_subscriber::fmt()
            .with_writer(std::sync::Mutex::new(kwb::errors::Redacting(file)))
            .with_ansi(false)
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("KWB_LOG")
                    .unwrap_or_else(|_| "kwb=info".into()),
            )
            .init();
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let parsed = parse_from(std::env::args_os().collect());
    let result = match parsed {
        Ok((cli, loaded)) => match init_logging(cli.log_file.as_deref()) {
            Ok(()) => run(cli, loaded).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            eprintln!("error: {}", kwb::config::redact_urls(&format!("{error:#}")));
            ExitCode::FAILURE
        }
    }
}
