//! The local server that outlives one command: one kwb process at a time holds the data folder
//! (an exclusive lock on `server.lock`), serves the stored streams on loopback and publishes its
//! endpoint in `endpoint`; any other kwb process that finds the folder held connects to that
//! endpoint instead. So `kwb put` in one terminal shows up in a `kwb read --follow` or a TUI in
//! another, and `kwb put` then `kwb read` works as two commands.

use crate::kinesis::embedded::{EmbeddedOptions, EmbeddedServer};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LOCK_FILE: &str = "server.lock";
const ENDPOINT_FILE: &str = "endpoint";
const STORE_DIR: &str = "store";
/// How long to wait for a holder that is still starting to publish its endpoint.
const ATTACH_WAIT: Duration = Duration::from_secs(10);

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

/// The local server as this process sees it.
pub enum Local {
    /// This process holds the folder and runs the server.
    Holder {
        server: EmbeddedServer,
        _lock: File,
        dir: PathBuf,
    },
    /// Another kwb process holds it; this is its endpoint.
    Attached { endpoint: String },
}

impl Local {
    pub fn endpoint(&self) -> String {
        match self {
            Local::Holder { server, .. } => server.endpoint(),
            Local::Attached { endpoint } => endpoint.clone(),
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Local::Holder { dir, .. } = self {
            let _ = std::fs::remove_file(dir.join(ENDPOINT_FILE));
        }
    }
}

fn open_lock(dir: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))
}

/// Holds the folder and serves it (on `port`, 0 for any), or attaches to the process that does.
pub async fn host_or_attach(dir: &Path, port: u16) -> std::io::Result<Local> {
    let deadline = Instant::now() + ATTACH_WAIT;
    loop {
        let lock = open_lock(dir)?;
        match lock.try_lock() {
            Ok(()) => {
                let options = EmbeddedOptions {
                    state_dir: Some(dir.join(STORE_DIR)),
                    port,
                    ..EmbeddedOptions::default()
                };
                let server = EmbeddedServer::start(options).await?;
                let tmp = dir.join(format!("{ENDPOINT_FILE}.tmp"));
                std::fs::write(&tmp, server.endpoint())?;
                std::fs::rename(&tmp, dir.join(ENDPOINT_FILE))?;
                return Ok(Local::Holder {
                    server,
                    _lock: lock,
                    dir: dir.to_path_buf(),
                });
            }
            Err(TryLockError::WouldBlock) => {
                if let Some(endpoint) = published(dir).await {
                    return Ok(Local::Attached { endpoint });
                }
                if Instant::now() >= deadline {
                    return Err(std::io::Error::other(format!(
                        "another kwb process holds {} but publishes no endpoint that answers",
                        dir.display()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// The holder's endpoint, if it is published and accepts connections.
async fn published(dir: &Path) -> Option<String> {
    let endpoint = std::fs::read_to_string(dir.join(ENDPOINT_FILE)).ok()?;
    let addr = endpoint.trim().strip_prefix("http://")?.to_string();
    tokio::net::TcpStream::connect(&addr).await.ok()?;
    Some(endpoint.trim().to_string())
}

/// Deletes every stream and record in the folder. Refused while a kwb process holds it.
pub fn reset(dir: &Path) -> std::io::Result<()> {
    let lock = open_lock(dir)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(std::io::Error::other(format!(
                "a kwb process is using {}; stop it (kwb serve, kwb in another terminal) first",
                dir.display()
            )))
        }
        Err(TryLockError::Error(e)) => return Err(e),
    }
    match std::fs::remove_dir_all(dir.join(STORE_DIR)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let _ = std::fs::remove_file(dir.join(ENDPOINT_FILE));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_process_attaches_to_the_holder_and_reset_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = host_or_attach(dir.path(), 0).await.unwrap();
        assert!(matches!(first, Local::Holder { .. }));
        // A second open of the lock file behaves like another process's.
        let second = host_or_attach(dir.path(), 0).await.unwrap();
        assert!(matches!(&second, Local::Attached { endpoint } if *endpoint == first.endpoint()));
        assert!(reset(dir.path())
            .unwrap_err()
            .to_string()
            .contains("is using"));
        drop(second);
        drop(first);
        reset(dir.path()).unwrap();
        assert!(!dir.path().join(STORE_DIR).exists());
    }
}
