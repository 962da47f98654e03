//! A workbench session without its terminal: the producer, the sending task that follows the
//! app's send plan, the key log, the stream's own metrics, and the effects `update` asks for.
//! The workbench drives one from its terminal; `kwb demo --headless` drives one from a
//! scenario's clock. Both change the app only through `update`.

use crate::kinesis::client::Connection;
use crate::kinesis::reshard;
use crate::kinesis::shard_map::ShardMap;
use crate::producer::config::{ProducerConfig, Tuning};
use crate::producer::metrics::MetricsSnapshot;
use crate::producer::{Producer, ShutdownReport};
use crate::stream_metrics::enable_shard_metrics;
use crate::tui::app::{update, App, Effect, Msg, SendPlan};
use crate::tui::keylog::KeyLog;
use crate::tui::{changes, poll_stream_metrics, sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Seconds of per-second history read for the views (the longest chart window).
const HISTORY: usize = 300;
/// Keys shown for the selected shard.
const TOP_KEYS: usize = 5;
/// How long a reshard may take before it is reported as failed.
const RESHARD_WAIT: Duration = Duration::from_secs(600);

pub struct Session {
    pub connection: Arc<Connection>,
    pub producer: Arc<Producer>,
    pub log: Arc<Mutex<KeyLog>>,
    stream: String,
    plan: watch::Sender<SendPlan>,
    /// Messages from the session's tasks (sender, stream metrics, effects) for `update`.
    inbox: mpsc::UnboundedSender<Msg>,
    tuning: Tuning,
    previous: MetricsSnapshot,
    sender: JoinHandle<()>,
    server: JoinHandle<()>,
    keep_alive: Option<JoinHandle<()>>,
}

impl Session {
    /// Starts the producer on an open stream, the app (`new_app` given the stream's shard map)
    /// and the session's tasks; the receiver carries the tasks' messages for `update`.
    pub async fn start(
        connection: Connection,
        stream: &str,
        seed: u64,
        new_app: impl FnOnce(Arc<ShardMap>) -> App,
    ) -> anyhow::Result<(Session, App, mpsc::UnboundedReceiver<Msg>)> {
        let connection = Arc::new(connection);
        let producer = Arc::new(
            Producer::start(
                connection.producer.clone(),
                stream,
                ProducerConfig::default(),
            )
            .await?,
        );
        let mut app = new_app(producer.shard_map());
        app.facts = producer.facts().clone();
        if app.facts.auto_distribution {
            update(
                &mut app,
                Msg::Event(format!(
                    "{stream} places records itself (AUTO): keys choose no shard; kwb spreads records over the shards in turn"
                )),
            );
        }
        let keep_alive = connection
            .is_embedded()
            .then(|| crate::kinesis::local::keep_alive(connection.admin.clone()));
        let log = Arc::new(Mutex::new(KeyLog::new(Instant::now())));
        let (plan, plan_rx) = watch::channel(app.plan());
        let (inbox, messages) = mpsc::unbounded_channel();
        let sender = tokio::spawn(sender::run(
            producer.clone(),
            plan_rx,
            log.clone(),
            inbox.clone(),
            seed,
        ));
        let server = tokio::spawn(poll_stream_metrics(
            connection.clone(),
            stream.to_string(),
            inbox.clone(),
        ));
        let session = Session {
            connection,
            producer,
            log,
            stream: stream.to_string(),
            plan,
            inbox,
            tuning: ProducerConfig::default().tuning(),
            previous: MetricsSnapshot::default(),
            sender,
            server,
            keep_alive,
        };
        Ok((session, app, messages))
    }

    /// Reads the producer's numbers, the keys sent lately and the shard map into the app;
    /// whether anything changed that the screen shows.
    pub fn tick(&mut self, app: &mut App) -> bool {
        let snapshot = self.producer.metrics().snapshot(HISTORY);
        for event in changes(&self.previous, &snapshot) {
            update(app, Msg::Event(event));
        }
        let mut changed = snapshot.shards != self.previous.shards
            || snapshot.failed_by_reason != self.previous.failed_by_reason;
        self.previous = snapshot.clone();
        update(app, Msg::Metrics(snapshot));
        let selected = app
            .map
            .open_shards()
            .nth(app.selected)
            .map(|s| s.shard_id.as_str());
        let sent = self.log.lock().expect("key log").view(selected, TOP_KEYS);
        changed |= sent != app.sent;
        update(app, Msg::Sent(sent));
        let map = self.producer.shard_map();
        if !Arc::ptr_eq(&map, &app.map) {
            changed = true;
            update(app, Msg::ShardMap(map));
        }
        update(app, Msg::Now(Instant::now()));
        changed
    }

    /// Does what `update` asked for: runs its effects, passes new settings to the producer and
    /// the new send plan to the sending task.
    pub fn follow(&mut self, app: &mut App) {
        for effect in app.effects.drain(..) {
            self.run(effect);
        }
        if app.tuning != self.tuning {
            self.tuning = app.tuning;
            if let Err(e) = self.producer.tune(self.tuning) {
                update(app, Msg::Event(e.to_string()));
            }
        }
        self.plan.send_if_modified(|plan| {
            let next = app.plan();
            let changed = *plan != next;
            *plan = next;
            changed
        });
    }

    fn run(&self, effect: Effect) {
        let (inbox, connection, stream) = (
            self.inbox.clone(),
            self.connection.clone(),
            self.stream.clone(),
        );
        match effect {
            Effect::EnableShardMetrics => {
                tokio::spawn(async move {
                    let said = match enable_shard_metrics(&connection, &stream).await {
                        Ok(on) => format!("shard-level metrics on: {}", on.join(", ")),
                        Err(e) => format!("could not turn on shard-level metrics: {e}"),
                    };
                    let _ = inbox.send(Msg::Event(said));
                });
            }
            Effect::Reshard(plan) => {
                let producer = self.producer.clone();
                tokio::spawn(async move {
                    let said = match reshard::apply(&connection.admin, &stream, &plan, RESHARD_WAIT)
                        .await
                    {
                        Ok(()) => Ok(format!("done: {}", plan.description)),
                        Err(e) => Err(format!("could not reshard: {e}")),
                    };
                    // The views follow the new shards now, not at the producer's next read.
                    producer.refresh_map();
                    let _ = inbox.send(Msg::Resharded(said));
                });
            }
            Effect::LoadTemplate(path) => {
                tokio::spawn(async move {
                    let text = tokio::fs::read_to_string(&path)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = inbox.send(Msg::TemplateLoaded(path, text));
                });
            }
        }
    }

    /// Stops the tasks and the producer, waiting up to `grace` for what is pending; the
    /// producer's final numbers and what it could not deliver.
    pub async fn finish(
        self,
        grace: Duration,
    ) -> anyhow::Result<(MetricsSnapshot, ShutdownReport)> {
        if let Some(task) = self.keep_alive {
            task.abort();
        }
        self.server.abort();
        drop(self.plan);
        let _ = self.sender.await;
        let producer = Arc::try_unwrap(self.producer)
            .map_err(|_| anyhow::anyhow!("the sender still holds the producer"))?;
        let metrics = producer.metrics().clone();
        let report = producer.shutdown(grace).await;
        // Counted after the shutdown: every record accepted is in ok or failed (those
        // undelivered at exit among the failed).
        Ok((metrics.snapshot(0), report))
    }
}
