//! The workbench TUI: send with a keystroke and watch every shard live.
//!
//! One owner of the UI state (`app::App`), changed only by `app::update` and drawn only by
//! `view::view`. One `select!` inbox takes key events (from a thread reading the terminal), a
//! render tick that reads the producer's metrics snapshot, and the shard map; a separate task
//! sends records according to the current send plan. The terminal is restored on every exit,
//! panics included (ratatui's hook).

pub mod app;
pub mod view;

use crate::cli::{open_stream, StreamArgs, TargetFlags};
use crate::compose::keys::KeyPicker;
use crate::compose::payload::Payloads;
use crate::compose::{Composer, Source};
use crate::producer::config::ProducerConfig;
use crate::producer::metrics::MetricsSnapshot;
use crate::producer::{Producer, PutError};
use app::{update, App, Key, Msg, SendPlan};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Frames at most this often.
const FRAME: Duration = Duration::from_millis(33);
/// How often metrics are read while nothing else happens.
const TICK: Duration = Duration::from_millis(250);
/// Seconds of per-second history read for the views.
const HISTORY: usize = 300;

fn key_of(code: KeyCode) -> Option<Key> {
    Some(match code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Esc => Key::Esc,
        _ => return None,
    })
}

/// Reads the terminal's keys on a thread of its own until the inbox closes.
fn read_keys(inbox: mpsc::UnboundedSender<Msg>) {
    std::thread::spawn(move || {
        while !inbox.is_closed() {
            if !event::poll(Duration::from_millis(100)).unwrap_or(false) {
                continue;
            }
            if let Ok(Event::Key(k)) = event::read() {
                if k.kind == KeyEventKind::Press {
                    if let Some(key) = key_of(k.code) {
                        let _ = inbox.send(Msg::Key(key));
                    }
                }
            }
        }
    });
}

/// Events worth telling: new failures by reason and new throttles by shard.
fn changes(before: &MetricsSnapshot, after: &MetricsSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (reason, n) in &after.failed_by_reason {
        let was = before.failed_by_reason.get(reason).copied().unwrap_or(0);
        if *n > was {
            out.push(format!("{} records failed: {reason}", n - was));
        }
    }
    for (shard, s) in &after.shards {
        let was = before.shards.get(shard).map_or(0, |b| b.throttled);
        if s.throttled > was {
            out.push(format!("throttled on {shard}; the limiter slows it down"));
        }
    }
    out
}

/// Sends records as the plan says: the steady rate plus any bursts, never past backpressure.
async fn send(
    producer: Arc<Producer>,
    mut plan: watch::Receiver<SendPlan>,
    inbox: mpsc::UnboundedSender<Msg>,
) {
    let current = plan.borrow().clone();
    let mut strategy = current.strategy.clone();
    let new_composer = |strategy| {
        let keys = KeyPicker::new(strategy, &producer.shard_map(), 42);
        Composer::new(Source::Sized(Payloads::new(100, 42)), keys, 42)
    };
    let mut composer = new_composer(strategy.clone());
    let (mut seq, mut bursts_sent, mut credit) = (0u64, 0u64, 0.0f64);
    let mut last = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    loop {
        tick.tick().await;
        if plan.has_changed().is_err() {
            return; // the UI has gone
        }
        let p = plan.borrow_and_update().clone();
        if p.strategy != strategy {
            strategy = p.strategy.clone();
            composer = new_composer(strategy.clone());
        }
        let now = Instant::now();
        let dt = now.duration_since(last).as_secs_f64();
        last = now;
        credit = if p.sending {
            (credit + p.rate * dt).min(p.rate.max(1.0))
        } else {
            0.0
        };
        let due = credit.floor() as u64 + p.burst.saturating_sub(bursts_sent);
        for _ in 0..due {
            let Ok(Some(record)) = composer.next(seq, &producer.shard_map()) else {
                break;
            };
            match producer.try_put(record) {
                Ok(_) => {}
                Err(PutError::Full(_)) => break,
                Err(e) => {
                    let _ = inbox.send(Msg::Event(e.to_string()));
                    break;
                }
            }
            seq += 1;
            if bursts_sent < p.burst {
                bursts_sent += 1;
            } else {
                credit -= 1.0;
            }
        }
    }
}

/// Opens the workbench on a stream; returns the exit code.
pub async fn run(target: &TargetFlags, stream: &StreamArgs) -> anyhow::Result<i32> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the workbench needs a terminal and stdout is not one; for scripts use `kwb put` (kwb put --help)"
        );
    }
    let connection = open_stream(target, stream).await?;
    let producer = Arc::new(
        Producer::start(
            connection.producer.clone(),
            &stream.stream,
            ProducerConfig::default(),
        )
        .await?,
    );
    let mut app = App::new(
        &stream.stream,
        &connection.target.to_string(),
        producer.shard_map(),
    );
    let (plan_tx, plan_rx) = watch::channel(app.plan());
    let (inbox, mut messages) = mpsc::unbounded_channel();
    let sender = tokio::spawn(send(producer.clone(), plan_rx, inbox.clone()));
    read_keys(inbox.clone());
    let mut terminal = ratatui::init();
    let mut tick = tokio::time::interval(TICK);
    let mut last_draw = Instant::now() - FRAME;
    let mut previous = MetricsSnapshot::default();
    let drawn = loop {
        tokio::select! {
            Some(msg) = messages.recv() => update(&mut app, msg),
            _ = tick.tick() => {
                let snapshot = producer.metrics().snapshot(HISTORY);
                for event in changes(&previous, &snapshot) {
                    update(&mut app, Msg::Event(event));
                }
                previous = snapshot.clone();
                update(&mut app, Msg::Metrics(snapshot));
                let map = producer.shard_map();
                if !Arc::ptr_eq(&map, &app.map) {
                    update(&mut app, Msg::ShardMap(map));
                }
            }
        }
        plan_tx.send_if_modified(|plan| {
            let next = app.plan();
            let changed = *plan != next;
            *plan = next;
            changed
        });
        if app.quit {
            break Ok(());
        }
        if last_draw.elapsed() >= FRAME {
            last_draw = Instant::now();
            if let Err(e) = terminal.draw(|frame| view::view(&app, frame)) {
                break Err(e);
            }
        }
    };
    ratatui::restore();
    drop(messages);
    drop(plan_tx);
    let _ = sender.await;
    drawn?;
    let producer = Arc::try_unwrap(producer)
        .map_err(|_| anyhow::anyhow!("the sender still holds the producer"))?;
    let report = producer.shutdown(Duration::from_secs(10)).await;
    let snapshot = previous;
    println!(
        "{}: ok {} failed {} throttled {}{}",
        stream.stream,
        snapshot.sum(|s| s.user_records),
        snapshot.sum(|s| s.failed),
        snapshot.sum(|s| s.throttled),
        if report.undelivered > 0 {
            format!(", {} undelivered at exit", report.undelivered)
        } else {
            String::new()
        }
    );
    Ok(if report.undelivered > 0 { 1 } else { 0 })
}
