//! Drawing: `view(&App, &mut Frame)`. Each pane is a function over the borrowed state; nothing
//! here changes the state.

use crate::producer::config::{SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};
use crate::producer::metrics::ShardSnapshot;
use crate::tui::app::{App, KEYS};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, LegendPosition, Paragraph, Row,
    Table,
};
use ratatui::Frame;

/// Seconds of history the chart shows.
const CHART_SECONDS: usize = 120;

/// Records and bytes in the last complete second.
fn last_second(series: &[u64]) -> u64 {
    series.len().checked_sub(2).map_or(0, |i| series[i])
}

/// The share of its write limit a shard used in the last complete second (records or bytes,
/// whichever is higher).
pub fn utilisation(shard: &ShardSnapshot) -> f64 {
    let records = last_second(&shard.kinesis_records_per_sec) as f64 / SHARD_RECORDS_PER_SEC;
    let bytes = last_second(&shard.bytes_per_sec) as f64 / SHARD_BYTES_PER_SEC;
    records.max(bytes)
}

fn heat(utilisation: f64) -> Color {
    match utilisation {
        u if u >= 0.95 => Color::Red,
        u if u >= 0.7 => Color::Yellow,
        u if u > 0.0 => Color::Green,
        _ => Color::DarkGray,
    }
}

pub fn view(app: &App, frame: &mut Frame) {
    let [status, map, shards, events] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(4),
        Constraint::Min(5),
        Constraint::Length(6),
    ])
    .areas(frame.area());
    status_bar(app, frame, status);
    shard_strip(app, frame, map);
    if shards.width >= 110 {
        let [table, chart] =
            Layout::horizontal([Constraint::Length(80), Constraint::Min(30)]).areas(shards);
        shard_table(app, frame, table);
        limit_chart(app, frame, chart);
    } else {
        shard_table(app, frame, shards);
    }
    event_list(app, frame, events);
    if app.help {
        help(frame);
    }
}

fn status_bar(app: &App, frame: &mut Frame, area: Rect) {
    let sum = |f: fn(&ShardSnapshot) -> u64| app.metrics.sum(f);
    let rate: u64 = app
        .metrics
        .shards
        .values()
        .map(|s| last_second(&s.records_per_sec))
        .sum();
    let pending: i64 = app.metrics.shards.values().map(|s| s.pending).sum();
    let state = if app.sending {
        Span::styled(
            format!(" sending {}/s ", app.rate()),
            Style::new().fg(Color::Black).bg(Color::Green),
        )
    } else {
        Span::styled(" paused ", Style::new().fg(Color::Black).bg(Color::Yellow))
    };
    let mut first = vec![
        Span::styled(" kwb ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            "{} on {} | {} shards | ",
            app.stream,
            app.target,
            app.map.open_count()
        )),
        state,
        Span::raw(format!(
            " key {}",
            crate::tui::app::STRATEGIES[app.strategy_index]
        )),
    ];
    if app.frozen {
        first.push(Span::styled(" FROZEN", Style::new().fg(Color::Cyan)));
    }
    let second = Line::from(format!(
        " ? help  q quit | {rate} rec/s | ok {} | failed {} | throttled {} | retries {} | pending {pending}",
        sum(|s| s.user_records),
        sum(|s| s.failed),
        sum(|s| s.throttled),
        sum(|s| s.retries),
    ));
    frame.render_widget(Paragraph::new(vec![Line::from(first), second]), area);
}

fn shard_strip(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" hash-key space: shard width = share of keys, colour = use of write limit ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let open: Vec<_> = app.map.open_shards().collect();
    if open.is_empty() || inner.width == 0 {
        return;
    }
    let width = inner.width as f64;
    let mut spans = Vec::new();
    let mut used = 0u16;
    for (i, shard) in open.iter().enumerate() {
        let end = if i + 1 == open.len() {
            inner.width
        } else {
            let cumulative: f64 = open[..=i].iter().map(|s| s.share_of_key_space()).sum();
            ((cumulative * width).round() as u16)
                .max(used + 1)
                .min(inner.width)
        };
        let w = end.saturating_sub(used) as usize;
        used = end;
        let u = app
            .metrics
            .shards
            .get(&shard.shard_id)
            .map_or(0.0, utilisation);
        let label = format!("{:.0}%", u * 100.0);
        let text = if w > label.len() + 1 {
            format!("{label:^w$}")
        } else {
            " ".repeat(w)
        };
        let mut style = Style::new().bg(heat(u)).fg(Color::Black);
        if i == app.selected {
            style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        }
        spans.push(Span::styled(text, style));
    }
    let selected = open.get(app.selected).map(|s| {
        format!(
            "{} {}..{} ({:.1}% of keys){}",
            s.shard_id,
            s.starting_hash_key,
            s.ending_hash_key,
            s.share_of_key_space() * 100.0,
            s.parent_shard_id
                .as_deref()
                .map(|p| format!(" parent {p}"))
                .unwrap_or_default()
        )
    });
    let lines = vec![Line::from(spans), Line::from(selected.unwrap_or_default())];
    frame.render_widget(Paragraph::new(lines), inner);
}

fn shard_table(app: &App, frame: &mut Frame, area: Rect) {
    let header = Row::new([
        "shard", "rec/s", "KiB/s", "limit", "thr/s", "ok", "pending", "p99 ms", "fill",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let open: Vec<_> = app.map.open_shards().collect();
    let empty = ShardSnapshot::default();
    let mut rows: Vec<(usize, &str, &ShardSnapshot)> = open
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                i,
                s.shard_id.as_str(),
                app.metrics.shards.get(&s.shard_id).unwrap_or(&empty),
            )
        })
        .collect();
    // With more shards than lines, the hottest ones (and the selected one) are shown.
    let room = area.height.saturating_sub(3) as usize;
    if rows.len() > room {
        rows.sort_by(|a, b| {
            utilisation(b.2)
                .total_cmp(&utilisation(a.2))
                .then(a.0.cmp(&b.0))
        });
        let selected = rows.iter().position(|r| r.0 == app.selected);
        if let Some(p) = selected.filter(|p| *p >= room && room > 0) {
            rows.swap(room - 1, p);
        }
        rows.truncate(room);
    }
    let body = rows.iter().map(|(i, id, s)| {
        let u = utilisation(s);
        let style = if *i == app.selected {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        Row::new(vec![
            Cell::from(id.trim_start_matches("shardId-").to_string()),
            Cell::from(last_second(&s.records_per_sec).to_string()),
            Cell::from(format!(
                "{:.0}",
                last_second(&s.bytes_per_sec) as f64 / 1024.0
            )),
            Cell::from(format!("{:.0}%", u * 100.0)).style(Style::new().fg(heat(u))),
            Cell::from(last_second(&s.throttled_per_sec).to_string()),
            Cell::from(s.user_records.to_string()),
            Cell::from(s.pending.to_string()),
            Cell::from(format!("{:.0}", s.latency_p99.as_secs_f64() * 1000.0)),
            Cell::from(format!("{:.0}", s.aggregation_fill())),
        ])
        .style(style)
    });
    let widths = [
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(5),
    ];
    let title = format!(" shards ({} open) ", open.len());
    let table = Table::new(body, widths)
        .header(header)
        .block(Block::new().borders(Borders::ALL).title(title));
    frame.render_widget(table, area);
}

/// Use of the write limit per second, for one shard's history (the current second left out).
fn utilisation_series(shard: &ShardSnapshot) -> Vec<(f64, f64)> {
    let n = shard.kinesis_records_per_sec.len().saturating_sub(1);
    (0..n)
        .map(|i| {
            let records = shard.kinesis_records_per_sec[i] as f64 / SHARD_RECORDS_PER_SEC;
            let bytes =
                shard.bytes_per_sec.get(i).copied().unwrap_or(0) as f64 / SHARD_BYTES_PER_SEC;
            (i as f64 - n as f64 + 1.0, records.max(bytes) * 100.0)
        })
        .collect()
}

/// The hottest shards' use of their write limit over time, against the 100 % line; the rest
/// are summed up as their maximum, so the legend stays readable with many shards.
fn limit_chart(app: &App, frame: &mut Frame, area: Rect) {
    const SHOWN: usize = 4;
    const COLOURS: [Color; SHOWN] = [Color::Red, Color::Yellow, Color::Cyan, Color::Magenta];
    let window = CHART_SECONDS.min(
        app.metrics
            .shards
            .values()
            .map(|s| s.kinesis_records_per_sec.len().saturating_sub(1))
            .max()
            .unwrap_or(0),
    );
    let mut shards: Vec<(&String, Vec<(f64, f64)>)> = app
        .metrics
        .shards
        .iter()
        .map(|(id, s)| {
            let series = utilisation_series(s);
            let start = series.len().saturating_sub(window);
            (id, series[start..].to_vec())
        })
        .collect();
    let peak = |series: &[(f64, f64)]| series.iter().map(|p| p.1).fold(0.0, f64::max);
    shards.sort_by(|a, b| peak(&b.1).total_cmp(&peak(&a.1)).then(a.0.cmp(b.0)));
    let others: Vec<(f64, f64)> = (0..window)
        .map(|i| {
            let max = shards[SHOWN.min(shards.len())..]
                .iter()
                .filter_map(|(_, s)| s.get(i).map(|p| p.1))
                .fold(0.0, f64::max);
            (i as f64 - window as f64 + 1.0, max)
        })
        .collect();
    let limit = vec![(1.0 - window.max(1) as f64, 100.0), (0.0, 100.0)];
    let mut datasets = vec![Dataset::default()
        .name("limit")
        .graph_type(GraphType::Line)
        .style(Style::new().fg(Color::DarkGray))
        .data(&limit)];
    let names: Vec<String> = shards
        .iter()
        .take(SHOWN)
        .map(|(id, _)| {
            id.trim_start_matches("shardId-")
                .trim_start_matches('0')
                .to_string()
        })
        .collect();
    for (i, (_, series)) in shards.iter().take(SHOWN).enumerate() {
        datasets.push(
            Dataset::default()
                .name(format!(
                    "#{}",
                    if names[i].is_empty() { "0" } else { &names[i] }
                ))
                .graph_type(GraphType::Line)
                .marker(symbols::Marker::Braille)
                .style(Style::new().fg(COLOURS[i]))
                .data(series),
        );
    }
    if shards.len() > SHOWN {
        datasets.push(
            Dataset::default()
                .name("others")
                .graph_type(GraphType::Line)
                .marker(symbols::Marker::Braille)
                .style(Style::new().fg(Color::Gray))
                .data(&others),
        );
    }
    let top = shards
        .iter()
        .map(|(_, s)| peak(s))
        .fold(100.0, f64::max)
        .ceil();
    let chart = Chart::new(datasets)
        .block(
            Block::new()
                .borders(Borders::ALL)
                .title(format!(" % of write limit, last {window} s ")),
        )
        .x_axis(
            Axis::default()
                .bounds([1.0 - window.max(1) as f64, 0.0])
                .labels([format!("-{window}s"), "now".into()]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(["0".to_string(), format!("{top:.0}%")]),
        )
        .legend_position(Some(LegendPosition::TopLeft));
    frame.render_widget(chart, area);
}

fn event_list(app: &App, frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = app
        .events
        .iter()
        .map(|(text, n)| {
            Line::from(if *n > 1 {
                format!("{text} (x{n})")
            } else {
                text.clone()
            })
        })
        .collect();
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" events (newest first) ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn help(frame: &mut Frame) {
    let area = frame.area();
    let width = 56.min(area.width);
    let height = (KEYS.len() as u16 + 2).min(area.height);
    let popup = Rect::new(
        (area.width - width) / 2,
        (area.height - height) / 2,
        width,
        height,
    );
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| Line::from(format!(" {k:<14}{what}")))
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::ALL).title(" keys ")),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinesis::shard_map::ShardMap;
    use crate::producer::metrics::MetricsSnapshot;
    use crate::tui::app::{update, Key, Msg};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::sync::Arc;
    use std::time::Duration;

    /// A shard that delivered `records` user records (in `kinesis` Kinesis records) and `bytes`
    /// in the last complete second.
    fn shard(records: u64, kinesis: u64, bytes: u64, throttled: u64) -> ShardSnapshot {
        ShardSnapshot {
            user_records: records * 10,
            kinesis_records: kinesis * 10,
            bytes: bytes * 10,
            throttled,
            latency_p99: Duration::from_millis(120),
            records_per_sec: vec![records, records, 0],
            kinesis_records_per_sec: vec![kinesis, kinesis, 0],
            bytes_per_sec: vec![bytes, bytes, 0],
            throttled_per_sec: vec![0, throttled, 0],
            ..ShardSnapshot::default()
        }
    }

    fn app(metrics: &[(usize, ShardSnapshot)]) -> App {
        let map = Arc::new(ShardMap::even_split(4));
        let mut app = App::new(
            "kwb-demo",
            "embedded ferrokinesis at http://127.0.0.1:4567",
            map.clone(),
        );
        let mut snapshot = MetricsSnapshot::default();
        for (i, s) in metrics {
            snapshot
                .shards
                .insert(map.shards()[*i].shard_id.clone(), s.clone());
        }
        update(&mut app, Msg::Metrics(snapshot));
        app
    }

    fn draw(app: &App, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| view(app, frame)).unwrap();
        terminal.backend().to_string()
    }

    fn sending(app: &mut App) {
        update(app, Msg::Key(Key::Char(' ')));
    }

    #[test]
    fn screens_at_both_sizes() {
        let idle = app(&[]);
        let mut random = app(&[
            (0, shard(250, 10, 30_000, 0)),
            (1, shard(240, 10, 29_000, 0)),
            (2, shard(260, 11, 31_000, 0)),
            (3, shard(250, 10, 30_000, 0)),
        ]);
        sending(&mut random);
        let mut hot = app(&[(2, shard(9000, 20, 1_040_000, 12))]);
        sending(&mut hot);
        update(&mut hot, Msg::Key(Key::Char('k')));
        update(&mut hot, Msg::Key(Key::Tab));
        update(&mut hot, Msg::Key(Key::Tab));
        update(
            &mut hot,
            Msg::Event("throttled on shardId-000000000002; the limiter slows it down".into()),
        );
        update(&mut hot, Msg::Event("12 records failed: Expired".into()));
        let mut help = app(&[]);
        update(&mut help, Msg::Key(Key::Char('?')));
        for (name, app) in [
            ("idle", &idle),
            ("random", &random),
            ("hot", &hot),
            ("help", &help),
        ] {
            for (w, h) in [(80, 24), (120, 40)] {
                insta::assert_snapshot!(format!("tui_{name}_{w}x{h}"), draw(app, w, h));
            }
        }
    }

    #[test]
    fn utilisation_is_the_higher_of_records_and_bytes_against_the_limits() {
        assert!((utilisation(&shard(9000, 20, 1_048_576, 0)) - 1.0).abs() < 1e-9);
        assert!((utilisation(&shard(500, 500, 1000, 0)) - 0.5).abs() < 1e-9);
        assert_eq!(utilisation(&ShardSnapshot::default()), 0.0);
    }

    #[test]
    fn many_shards_show_the_hottest_and_the_selected_one() {
        let map = Arc::new(ShardMap::even_split(64));
        let mut app = App::new("s", "t", map.clone());
        let mut snapshot = MetricsSnapshot::default();
        snapshot
            .shards
            .insert(map.shards()[40].shard_id.clone(), shard(900, 900, 1000, 0));
        update(&mut app, Msg::Metrics(snapshot));
        app.selected = 63;
        let screen = draw(&app, 80, 24);
        assert!(screen.contains("│000000000040"), "{screen}");
        assert!(screen.contains("│000000000063"), "{screen}");
    }
}
