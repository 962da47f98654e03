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

/// Output that cannot be written ends kwb with a clear word instead of a panic: quietly when
/// the reader went away (`kwb shards | head`), with an error otherwise (a full disk).
fn exit_on_failed_output() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if let Some(why) = message.strip_prefix("failed printing to stdout: ") {
            if why.contains("Broken pipe") {
                std::process::exit(141);
            }
            eprintln!("error: could not write to standard output: {why}");
            std::process::exit(1);
        }
        default(info);
    }));
}

#[tokio::main]
async fn main() -> ExitCode {
    exit_on_failed_output();
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
