//! The local server that outlives one command.
//!
//! With no target named, kwb talks to a local ferrokinesis that runs in its own background
//! process (`kwb serve --idle-exit`), so that `kwb put` then `kwb read` works as two commands and
//! `kwb put` in one terminal shows up in a `kwb read --follow` in another. One process at a time
//! holds the data folder (an exclusive lock on `server.lock`) and publishes its endpoint in
//! `endpoint`; every other kwb process connects there, starting the background server first when
//! none runs. Streams live in the server's memory: they last while it runs (until it has been
//! idle for a while, or `kwb reset` clears them).

use crate::kinesis::embedded::{EmbeddedOptions, EmbeddedServer};
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LOCK_FILE: &str = "server.lock";
const ENDPOINT_FILE: &str = "endpoint";
const LOG_FILE: &str = "server.log";
/// How long to wait for a background server to publish its endpoint.
const START_WAIT: Duration = Duration::from_secs(10);
/// A background server stops after this long without a request (`KWB_IDLE_EXIT_SECS` overrides).
pub const DEFAULT_IDLE_EXIT: Duration = Duration::from_secs(30 * 60);

/// The data folder: `KWB_DATA_DIR`, else the platform's data folder for kwb.
pub fn data_dir() -> std::io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("KWB_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "kwb")
        .map(|p| p.data_dir().to_path_buf())
        .ok_or_else(|| {
            std::io::Error::other("no home folder to keep kwb's data in; set KWB_DATA_DIR")
        })
}

/// How long a background server may sit idle.
pub fn idle_exit() -> Duration {
    std::env::var("KWB_IDLE_EXIT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(DEFAULT_IDLE_EXIT, Duration::from_secs)
}

/// Keeps the local server from its idle exit while a command that may sit idle for long (the
/// workbench) uses it: one cheap request every third of the idle time. Abort it when done.
pub fn keep_alive(client: aws_sdk_kinesis::Client) -> tokio::task::JoinHandle<()> {
    let every = (idle_exit() / 3).clamp(Duration::from_secs(1), Duration::from_secs(60));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = client.list_streams().limit(1).send().await {
                tracing::debug!(
                    "keeping the local server alive: {}",
                    crate::errors::describe(&e)
                );
            }
        }
    })
}

fn open_lock(dir: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))
}

/// The server holding a data folder; the endpoint file goes when it does.
pub struct Held {
    pub server: EmbeddedServer,
    _lock: File,
    dir: PathBuf,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join(ENDPOINT_FILE));
    }
}

/// Takes the folder and serves on `port` (0 for any). Fails, naming the endpoint, when another
/// process already serves it.
pub async fn hold(dir: &Path, port: u16) -> std::io::Result<Held> {
    let lock = open_lock(dir)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let at = published(dir)
                .await
                .unwrap_or_else(|| "an endpoint still starting".into());
            return Err(std::io::Error::other(format!(
                "another kwb process already serves {} at {at}",
                dir.display()
            )));
        }
        Err(TryLockError::Error(e)) => return Err(e),
    }
    let server = EmbeddedServer::start(EmbeddedOptions {
        port,
        ..EmbeddedOptions::default()
    })
    .await?;
    let tmp = dir.join(format!("{ENDPOINT_FILE}.tmp"));
    std::fs::write(&tmp, server.endpoint())?;
    std::fs::rename(&tmp, dir.join(ENDPOINT_FILE))?;
    Ok(Held {
        server,
        _lock: lock,
        dir: dir.to_path_buf(),
    })
}

/// Whether some process holds the folder.
fn is_held(dir: &Path) -> std::io::Result<bool> {
    match open_lock(dir)?.try_lock() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// The running local server's endpoint, if one runs and answers.
pub async fn running(dir: &Path) -> std::io::Result<Option<String>> {
    Ok(if is_held(dir)? {
        published(dir).await
    } else {
        None
    })
}

/// The local server's endpoint, starting a background server when none runs.
pub async fn endpoint(dir: &Path) -> std::io::Result<String> {
    let deadline = Instant::now() + START_WAIT;
    let mut started = false;
    loop {
        if is_held(dir)? {
            if let Some(endpoint) = published(dir).await {
                return Ok(endpoint);
            }
        } else if !started {
            start_background(dir)?;
            started = true;
        }
        if Instant::now() >= deadline {
            return Err(std::io::Error::other(format!(
                "the local server did not start within {} s; see {}",
                START_WAIT.as_secs(),
                dir.join(LOG_FILE).display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Starts `kwb serve` detached (its own process group, no terminal), logging to the folder.
fn start_background(dir: &Path) -> std::io::Result<()> {
    let log = File::create(dir.join(LOG_FILE))?;
    Command::new(std::env::current_exe()?)
        .args(["serve", "--idle-exit", &idle_exit().as_secs().to_string()])
        .env("KWB_DATA_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()?;
    Ok(())
}

/// The holder's endpoint, if it is published and accepts connections.
async fn published(dir: &Path) -> Option<String> {
    let endpoint = std::fs::read_to_string(dir.join(ENDPOINT_FILE)).ok()?;
    let endpoint = endpoint.trim().to_string();
    tokio::net::TcpStream::connect(endpoint.strip_prefix("http://")?)
        .await
        .ok()?;
    Some(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_and_others_find_its_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(running(dir.path()).await.unwrap(), None);
        let held = hold(dir.path(), 0).await.unwrap();
        // A second open of the lock file behaves like another process's.
        let err = hold(dir.path(), 0).await.err().unwrap();
        assert!(err.to_string().contains(&held.server.endpoint()), "{err}");
        assert_eq!(
            running(dir.path()).await.unwrap(),
            Some(held.server.endpoint())
        );
        assert_eq!(endpoint(dir.path()).await.unwrap(), held.server.endpoint());
        drop(held);
        assert_eq!(running(dir.path()).await.unwrap(), None);
        assert!(!dir.path().join(ENDPOINT_FILE).exists());
    }
}
