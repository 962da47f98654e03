//! The workbench TUI: send with a keystroke and watch every shard live.
//!
//! One owner of the UI state (`app::App`), changed only by `app::update` and drawn only by
//! `view::view`. One `select!` inbox takes key events (from a thread reading the terminal), a
//! render tick that reads the producer's metrics snapshot, and the shard map; a separate task
//! sends records according to the current send plan. The terminal is restored on every exit,
//! panics included (ratatui's hook).

pub mod app;
pub mod keylog;
pub mod load;
pub mod pane;
pub mod sender;
pub mod session;
pub mod view;

use crate::kinesis::client::{Connection, TargetArgs};
use crate::kinesis::open::{open_stream, Missing};
use crate::producer::metrics::MetricsSnapshot;
use crate::stream_metrics::{shard_metrics_off, watch, Source};
use app::{update, App, Key, Msg};
use pane::demo::Demo;
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyCode, KeyEventKind, KeyModifiers,
    MouseButton, MouseEventKind,
};
use ratatui::crossterm::execute;
use session::Session;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Frames at most this often.
const FRAME: Duration = Duration::from_millis(33);
/// How often metrics are read while nothing else happens.
const TICK: Duration = Duration::from_millis(250);

fn key_of(code: KeyCode) -> Option<Key> {
    Some(match code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Enter => Key::Enter,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Esc => Key::Esc,
        _ => return None,
    })
}

/// What the terminal says: keys for `update`, clicks to resolve against the layout, resizes.
enum Input {
    Msg(Msg),
    Click(u16, u16),
    Resize,
}

/// Reads the terminal's events on a thread of its own until the inbox closes.
fn read_terminal(inbox: mpsc::UnboundedSender<Input>) {
    std::thread::spawn(move || {
        while !inbox.is_closed() {
            if !event::poll(Duration::from_millis(100)).unwrap_or(false) {
                continue;
            }
            let input = match event::read() {
                Ok(Event::Key(k))
                    if k.kind == KeyEventKind::Press
                        && k.modifiers.contains(KeyModifiers::CONTROL)
                        && k.code == KeyCode::Char('c') =>
                {
                    Some(Input::Msg(Msg::Interrupt))
                }
                Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => {
                    key_of(k.code).map(|key| Input::Msg(Msg::Key(key)))
                }
                Ok(Event::Mouse(m)) if m.kind == MouseEventKind::Down(MouseButton::Left) => {
                    Some(Input::Click(m.column, m.row))
                }
                Ok(Event::Resize(..)) => Some(Input::Resize),
                _ => None,
            };
            if let Some(input) = input {
                let _ = inbox.send(input);
            }
        }
    });
}

/// Events worth telling: new failed attempts by error, new failures by reason and new throttles
/// by shard.
pub(crate) fn changes(before: &MetricsSnapshot, after: &MetricsSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (code, errors) in &after.errors_by_code {
        let was = before.errors_by_code.get(code).map_or(0, |e| e.count);
        if errors.count > was {
            out.push(format!(
                "attempts failing with {code}: {}; retrying",
                errors.last_message
            ));
        }
    }
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

/// Mouse capture on, and off again on every exit (ratatui's own hook restores the rest).
fn capture_mouse() {
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
    }));
}

/// The target as the status bar names it: on AWS with the account, read from the stream's ARN.
async fn target_label(connection: &Connection, stream: &str) -> String {
    let target = connection.target.to_string();
    if !matches!(
        connection.target,
        crate::kinesis::client::Target::Aws { .. }
    ) {
        return target;
    }
    match crate::kinesis::admin::describe(&connection.admin, stream).await {
        Ok(summary) => match summary.arn.split(':').nth(4) {
            Some(account) if !account.is_empty() => format!("{target} account {account}"),
            _ => target,
        },
        Err(_) => target,
    }
}

/// Reads the stream's own metrics for the views: the embedded server's counts every second, or
/// CloudWatch's every minute; a failed reading is an event.
pub(crate) async fn poll_stream_metrics(
    connection: Arc<Connection>,
    stream: String,
    inbox: mpsc::UnboundedSender<Msg>,
) {
    let source = Source::default_for(&connection.target);
    if source == Source::Cloudwatch {
        if let Some(missing) = shard_metrics_off(&connection, &stream).await {
            let _ = inbox.send(Msg::Event(format!(
                "shard-level metrics {} are off for {stream}: CloudWatch has no per-shard numbers for s; m turns them on (billed)",
                missing.join(", ")
            )));
        }
    }
    let every = match source {
        Source::Server => Duration::from_secs(1),
        Source::Cloudwatch => Duration::from_secs(60),
    };
    watch(&connection, &stream, source, 5, every, |reading| {
        let msg = match reading {
            Ok(metrics) => Msg::Server(metrics),
            Err(e) => Msg::Event(format!("stream metrics ({}): {e}", source.name())),
        };
        inbox.send(msg).is_ok()
    })
    .await;
}

/// Opens the workbench on a stream (on a scenario's first stage with `demo`); returns the exit
/// code. `seed` (else a fresh one) seeds the session's random keys and data.
pub async fn run(
    target: &TargetArgs,
    stream: &str,
    shards: u32,
    seed: Option<u64>,
    demo: Option<Demo>,
) -> anyhow::Result<i32> {
    let seed = seed.unwrap_or_else(crate::compose::fresh_seed);
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the workbench needs a terminal and stdout is not one; for scripts use `kwb put` (kwb put --help), or `kwb demo NAME --headless`"
        );
    }
    let mut demo = demo;
    let connection = match demo.as_mut() {
        Some(demo) => {
            let connection = crate::demo::open(target, stream, &demo.name, &demo.scenario).await?;
            demo.ask_first &= !connection.is_embedded();
            connection
        }
        None => open_stream(target, stream, shards, Missing::Create).await?,
    };
    let label = target_label(&connection, stream).await;
    let (mut session, mut app, mut messages) = Session::start(connection, stream, seed, |map| {
        let mut app = App::new(stream, &label, map);
        app.demo = demo;
        app
    })
    .await?;
    let (inbox, mut inputs) = mpsc::unbounded_channel();
    // Signals end the workbench like its keys do, so the terminal is restored and the pending
    // records reported: SIGINT as Ctrl-C, SIGTERM and SIGHUP as a second q.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    read_terminal(inbox.clone());
    let mut terminal = ratatui::init();
    capture_mouse();
    let mut tick = tokio::time::interval(TICK);
    let mut last_draw = Instant::now() - FRAME;
    // Whether the screen is out of date; frames are drawn at most every FRAME.
    let mut stale = true;
    let drawn = loop {
        // Anything but a quiet tick changes the screen.
        let mut dirty = true;
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        tokio::select! {
            _ = tokio::time::sleep_until(next_frame), if stale => {}
            Some(input) = inputs.recv() => match input {
                Input::Msg(msg) => update(&mut app, msg),
                Input::Click(x, y) => {
                    let size = terminal.size().unwrap_or_default();
                    let area = ratatui::layout::Rect::new(0, 0, size.width, size.height);
                    if let Some(hit) = view::hit(&app, area, x, y) {
                        update(&mut app, Msg::Click(hit));
                    }
                }
                Input::Resize => {}
            },
            Some(msg) = messages.recv() => update(&mut app, msg),
            _ = interrupt.recv() => update(&mut app, Msg::Interrupt),
            _ = terminate.recv() => update(&mut app, Msg::Terminate),
            _ = hangup.recv() => update(&mut app, Msg::Terminate),
            // With nothing new (idle), the tick draws nothing.
            _ = tick.tick() => dirty = session.tick(&mut app),
        }
        session.follow(&mut app);
        if app.quit || (app.quitting && session.producer.outstanding() == 0) {
            break Ok(());
        }
        stale |= dirty;
        if stale && last_draw.elapsed() >= FRAME {
            stale = false;
            last_draw = Instant::now();
            if let Err(e) = terminal.draw(|frame| view::view(&app, frame)) {
                break Err(e);
            }
        }
    };
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    drop(inputs);
    drawn?;
    // A second q means now: what is still pending is reported undelivered at once.
    let grace = if app.quit {
        Duration::ZERO
    } else {
        Duration::from_secs(10)
    };
    let (snapshot, report) = session.finish(grace).await?;
    println!(
        "{}: ok {} failed {} throttled {}{} (seed {seed})",
        stream,
        snapshot.sum(|s| s.user_records),
        snapshot.failed(),
        snapshot.sum(|s| s.throttled),
        if report.undelivered > 0 {
            format!(", {} of them undelivered at exit", report.undelivered)
        } else {
            String::new()
        }
    );
    Ok(if report.undelivered > 0 { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::metrics::{AttemptErrors, ShardSnapshot};

    #[test]
    fn changes_tell_new_errors_failures_and_throttles_only() {
        let mut before = MetricsSnapshot::default();
        before.shards.insert("s1".into(), ShardSnapshot::default());
        let mut after = before.clone();
        assert!(changes(&before, &after).is_empty());
        after.errors_by_code.insert(
            "DispatchFailure".into(),
            AttemptErrors {
                count: 3,
                last_message: "connection refused".into(),
            },
        );
        after.failed_by_reason.insert("Expired".into(), 2);
        after.shards.get_mut("s1").unwrap().throttled = 1;
        assert_eq!(
            changes(&before, &after),
            vec![
                "attempts failing with DispatchFailure: connection refused; retrying",
                "2 records failed: Expired",
                "throttled on s1; the limiter slows it down",
            ]
        );
        assert!(changes(&after, &after).is_empty());
    }
}
