//! The shard table: one row per open shard (the hottest and the selected one when they do not
//! all fit), then the closed parents, greyed.

use crate::producer::metrics::ShardSnapshot;
use crate::tui::app::{App, Pane};
use crate::tui::load;
use crate::tui::view::{heat, last_second, marked, pane_block};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

/// Throttles a second in the view's numbers, red when there are any (CloudWatch's minutes may
/// average under one a second: still marked).
fn throttled_cell(per_sec: f64) -> Cell<'static> {
    match per_sec {
        t if t <= 0.0 => Cell::from("0"),
        t if t < 1.0 => Cell::from("<1"),
        t => Cell::from(format!("{t:.0}")),
    }
    .style(if per_sec > 0.0 {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    })
}

/// Body rows a table of this height shows.
pub fn room(area: Rect) -> usize {
    area.height.saturating_sub(3) as usize
}

/// The rows of the shard table: every open shard in order, or, with more shards than room,
/// the hottest ones and the selected one. (index among open shards, id, metrics)
pub fn rows(app: &App, room: usize) -> Vec<(usize, &str, &ShardSnapshot)> {
    static EMPTY: std::sync::LazyLock<ShardSnapshot> = std::sync::LazyLock::new(Default::default);
    let mut rows: Vec<(usize, &str, &ShardSnapshot)> = app
        .map
        .open_shards()
        .enumerate()
        .map(|(i, s)| {
            (
                i,
                s.shard_id.as_str(),
                app.metrics.shards.get(&s.shard_id).unwrap_or(&EMPTY),
            )
        })
        .collect();
    if rows.len() > room {
        let u = |id: &str| load::shown(app, id).utilisation();
        rows.sort_by(|a, b| u(b.1).total_cmp(&u(a.1)).then(a.0.cmp(&b.0)));
        let selected = rows.iter().position(|r| r.0 == app.selected);
        if let Some(p) = selected.filter(|p| *p >= room && room > 0) {
            rows.swap(room - 1, p);
        }
        rows.truncate(room);
    }
    rows
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let header = Row::new([
        "shard", "rec/s", "KiB/s", "limit", "thr/s", "ok", "pending", "p99 ms", "fill",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let room = room(area);
    let rows = rows(app, room);
    // Closed shards (parents of splits and merges) follow, greyed, where there is room.
    let closed = app
        .map
        .shards()
        .iter()
        .filter(|s| !s.open)
        .take(room.saturating_sub(rows.len()))
        .map(|s| {
            let mut cells = vec![Cell::from(
                s.shard_id.trim_start_matches("shardId-").to_string(),
            )];
            cells.extend(["-", "-", "-", "-", "closed"].map(Cell::from));
            Row::new(cells).style(Style::new().fg(Color::DarkGray))
        });
    let body = rows.iter().map(|(i, id, s)| {
        let shown = load::shown(app, id);
        let u = shown.utilisation();
        let style = if *i == app.selected {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        Row::new(vec![
            Cell::from(marked(
                app,
                id,
                id.trim_start_matches("shardId-").to_string(),
            )),
            Cell::from(last_second(&s.records_per_sec).to_string()),
            Cell::from(format!(
                "{:.0}",
                last_second(&s.bytes_per_sec) as f64 / 1024.0
            )),
            Cell::from(format!("{:.0}%", u * 100.0)).style(Style::new().fg(heat(u))),
            throttled_cell(shown.throttled),
            Cell::from(s.user_records.to_string()),
            Cell::from(s.pending.to_string()),
            Cell::from(format!("{:.0}", s.latency_p99.as_secs_f64() * 1000.0)),
            Cell::from(format!("{:.0}", s.aggregation_fill())),
        ])
        .style(style)
    });
    let body = body.chain(closed);
    let widths = [
        Constraint::Length(13),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(4),
    ];
    let title = format!(
        " shards ({} open; tab, arrows){} ",
        app.map.open_count(),
        if app.server.is_some() {
            "; limit by s view, * = other producers"
        } else {
            ""
        }
    );
    let table =
        Table::new(body, widths)
            .header(header)
            .block(pane_block(app, Some(Pane::Shards), title));
    frame.render_widget(table, area);
}
