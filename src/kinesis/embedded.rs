//! The embedded Kinesis-compatible server: ferrokinesis, in-process and in memory, on a loopback
//! port, with per-shard write limits enforced like the real service. It counts every client's
//! puts per shard (`server_metrics`) and notes when it last answered a request, so a background
//! server can stop when nobody uses it.

use crate::kinesis::server_metrics::{self, ServerMetrics};
use axum::extract::DefaultBodyLimit;
use ferrokinesis::store::StoreOptions;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Region and credentials the embedded server is spoken to with (it accepts any).
pub const EMBEDDED_REGION: &str = "us-east-1";
pub const EMBEDDED_ACCESS_KEY: &str = "kwb-embedded";
pub const EMBEDDED_SECRET_KEY: &str = "kwb-embedded-secret";

/// Largest HTTP body the embedded server reads.
pub(crate) const MAX_REQUEST_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How long a shutdown waits for open connections to finish before it drops them.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);

/// A running in-process server; it stops when dropped or shut down.
pub struct EmbeddedServer {
    addr: SocketAddr,
    started: Instant,
    /// Milliseconds after `started` of the last request.
    last_request_ms: Arc<AtomicU64>,
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
    /// Loopback port to listen on; 0 picks a free one.
    pub port: u16,
    /// Count every client's puts per shard and publish them (`server_metrics`).
    pub shard_metrics: bool,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            enforce_limits: true,
            shard_limit: 10_000,
            port: 0,
            shard_metrics: true,
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
            ..StoreOptions::default()
        };
        let (mut app, store) = ferrokinesis::create_app(store_options);
        if options.shard_metrics {
            let metrics = ServerMetrics::start(store);
            app = app.layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    server_metrics::observe(metrics.clone(), request, next)
                },
            ));
        }
        let started = Instant::now();
        let last_request_ms = Arc::new(AtomicU64::new(0));
        let seen = last_request_ms.clone();
        let app = app.layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                seen.store(started.elapsed().as_millis() as u64, Relaxed);
                next.run(request)
            },
        ));
        // Data travels base64-encoded in JSON: a 10 MiB PutRecords request is ~14 MB of body.
        let app = app.layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        // HTTP/1.1 and HTTP/2 (h2c, for SubscribeToShard) on one port.
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(EmbeddedServer {
            addr,
            started,
            last_request_ms,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The server's URL, for any Kinesis client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How long since the server last answered a request (or started).
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_request_ms.load(Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    /// Stops accepting connections and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            // Connections get a while to finish (a subscription may stream for minutes).
            if tokio::time::timeout(SHUTDOWN_DRAIN, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
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
