//! The embedded Kinesis-compatible server: ferrokinesis, in-process, on a loopback port, with
//! per-shard write limits enforced like the real service, in memory or kept in a folder.

use axum::extract::DefaultBodyLimit;
use ferrokinesis::store::{
    DurableStateOptions, StoreOptions, DEFAULT_DURABLE_SNAPSHOT_INTERVAL_SECS,
};
use std::net::SocketAddr;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Region and credentials the embedded server is spoken to with (it accepts any).
pub const EMBEDDED_REGION: &str = "us-east-1";
pub const EMBEDDED_ACCESS_KEY: &str = "kwb-embedded";
pub const EMBEDDED_SECRET_KEY: &str = "kwb-embedded-secret";

/// Largest HTTP body the embedded server reads.
const MAX_REQUEST_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A running in-process server; it stops when dropped or shut down.
pub struct EmbeddedServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Server settings that matter to kwb.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Throttle writes above 1,000 records/s or 1 MiB/s per shard.
    pub enforce_limits: bool,
    /// Most open shards across all streams.
    pub shard_limit: u32,
    /// Keep streams and records in this folder (write-ahead log and snapshots); in memory when
    /// `None`.
    pub state_dir: Option<std::path::PathBuf>,
    /// Loopback port to listen on; 0 picks a free one.
    pub port: u16,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            enforce_limits: true,
            shard_limit: 10_000,
            state_dir: None,
            port: 0,
        }
    }
}

impl EmbeddedServer {
    /// Starts a server on `127.0.0.1` at an ephemeral port.
    pub async fn start(options: EmbeddedOptions) -> std::io::Result<EmbeddedServer> {
        let store_options = StoreOptions {
            enforce_limits: options.enforce_limits,
            shard_limit: options.shard_limit,
            create_stream_ms: 0,
            delete_stream_ms: 0,
            update_stream_ms: 0,
            aws_region: EMBEDDED_REGION.to_string(),
            durable: options
                .state_dir
                .clone()
                .map(|state_dir| DurableStateOptions {
                    state_dir,
                    snapshot_interval_secs: DEFAULT_DURABLE_SNAPSHOT_INTERVAL_SECS,
                    max_retained_bytes: None,
                }),
            ..StoreOptions::default()
        };
        let (app, store) = ferrokinesis::create_app(store_options);
        if let Err(e) = store.check_ready() {
            let place = options
                .state_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            return Err(std::io::Error::other(format!(
                "the embedded store in {place} cannot be used ({e:?}); `kwb reset` clears it"
            )));
        }
        // Data travels base64-encoded in JSON: a 10 MiB PutRecords request is ~14 MB of body.
        let app = app.layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(ferrokinesis::serve_plain_http(listener, app, async move {
            let _ = stopped.await;
        }));
        Ok(EmbeddedServer {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The server's URL, for any Kinesis client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
