//! Drawing: `view(&App, &mut Frame)`, and `hit` for the mouse. Each pane is a function over the
//! borrowed state; nothing here changes the state. The layout is computed in one place
//! (`Regions`) so that drawing and mouse hits agree.

use crate::compose::rate::RateShape;
use crate::hot_keys::advice::{advise, ShardLoad, StreamLoad};
use crate::producer::config::{SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};
use crate::producer::metrics::ShardSnapshot;
use crate::stream_metrics::{Series, ShardSeries as StreamShard, StreamMetrics};
use crate::tui::app::{
    App, ChartKind, Confirm, EditField, Hit, Pane, Setting, SourceChoice, ViewSource, KEYS,
    SETTINGS,
};
use crate::tui::load;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, Paragraph, Row, Table, Wrap,
};
use ratatui::Frame;

/// From this width the charts sit beside the shard table.
const CHART_MIN_WIDTH: u16 = 110;
/// Shards the charts draw one by one (the selected one besides); the rest are one line.
const HIGHLIGHTED: usize = 3;
const COLOURS: [Color; HIGHLIGHTED] = [Color::Red, Color::Yellow, Color::Magenta];
const SELECTED_COLOUR: Color = Color::Cyan;

/// The value of the last complete second of a series (the last entry is the current second).
fn last_second(series: &[u64]) -> u64 {
    series.len().checked_sub(2).map_or(0, |i| series[i])
}

/// The share of its write limit a shard used in the last complete second, by kwb's producer.
pub fn utilisation(shard: &ShardSnapshot) -> f64 {
    load::producer(shard).utilisation()
}

/// A shard's id in the table and legends, starred when other producers write to it too.
fn marked(app: &App, shard_id: &str, text: String) -> String {
    if load::other_producers(app, shard_id).is_some() {
        format!("{text}*")
    } else {
        text
    }
}

fn heat(utilisation: f64) -> Color {
    match utilisation {
        u if u >= 0.95 => Color::Red,
        u if u >= 0.7 => Color::Yellow,
        u if u > 0.0 => Color::Green,
        _ => Color::DarkGray,
    }
}

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

fn short_id(shard_id: &str) -> String {
    let n = shard_id
        .trim_start_matches("shardId-")
        .trim_start_matches('0');
    format!("#{}", if n.is_empty() { "0" } else { n })
}

/// Where each pane is on a screen of a given size.
struct Regions {
    status: Rect,
    strip: Rect,
    composer: Rect,
    keys: Rect,
    sending: Rect,
    table: Rect,
    chart: Option<Rect>,
    events: Rect,
}

impl Regions {
    fn of(area: Rect) -> Regions {
        let tall = area.height >= 30;
        let [status, strip, controls, middle, events] = Layout::vertical([
            Constraint::Length(2),
            // Tall: the selected shard's rates and keys, its advice, and one more line.
            Constraint::Length(if tall { 7 } else { 5 }),
            Constraint::Length(if tall { 8 } else { 7 }),
            Constraint::Min(5),
            Constraint::Length(if tall { 6 } else { 4 }),
        ])
        .areas(area);
        let [composer, keys, sending] = Layout::horizontal([
            Constraint::Ratio(2, 5),
            Constraint::Ratio(3, 10),
            Constraint::Ratio(3, 10),
        ])
        .areas(controls);
        let (table, chart) = if middle.width >= CHART_MIN_WIDTH {
            let [table, chart] =
                Layout::horizontal([Constraint::Length(72), Constraint::Min(38)]).areas(middle);
            (table, Some(chart))
        } else {
            (middle, None)
        };
        Regions {
            status,
            strip,
            composer,
            keys,
            sending,
            table,
            chart,
            events,
        }
    }
}

pub fn view(app: &App, frame: &mut Frame) {
    let r = Regions::of(frame.area());
    status_bar(app, frame, r.status);
    shard_strip(app, frame, r.strip);
    composer(app, frame, r.composer);
    key_strategy(app, frame, r.keys);
    sending(app, frame, r.sending);
    shard_table(app, frame, r.table);
    if let Some(chart) = r.chart {
        shard_chart(app, frame, chart);
    }
    event_list(app, frame, r.events);
    if app.editor.is_some() {
        editor(app, frame, r.events);
    }
    if app.help {
        help(frame);
    }
    if app.confirm.is_some() {
        confirm(app, frame);
    }
}

/// The question asked before turning on shard-level metrics, which AWS bills, or before
/// resharding, which cannot be undone.
fn confirm(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let width = 64.min(area.width);
    // A reshard's ranges are long numbers: room for them and the answer keys at 80 columns.
    let lines = if matches!(app.confirm, Some(Confirm::Reshard(_))) {
        12
    } else {
        7
    };
    let height = lines.min(area.height);
    let popup = Rect::new(
        (area.width - width) / 2,
        (area.height - height) / 2,
        width,
        height,
    );
    let (title, text) = match &app.confirm {
        Some(Confirm::Reshard(plan)) => (
            " reshard ",
            format!(
                "{}. Sending goes on. y: yes, any other key: no",
                plan.description
            ),
        ),
        _ => (
            " enhanced monitoring ",
            format!(
                "Turn on CloudWatch shard-level metrics (IncomingRecords, IncomingBytes, WriteProvisionedThroughputExceeded) for {}? CloudWatch bills each metric per shard. y: yes, any other key: no",
                app.stream
            ),
        ),
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(
            Block::new()
                .borders(Borders::ALL)
                .border_style(Style::new().fg(Color::Yellow))
                .title(title),
        ),
        popup,
    );
}

/// What a mouse click at `(x, y)` on a screen of `area` points at.
pub fn hit(app: &App, area: Rect, x: u16, y: u16) -> Option<Hit> {
    let r = Regions::of(area);
    let at = Position::new(x, y);
    let inner = |rect: Rect| Block::new().borders(Borders::ALL).inner(rect);
    if inner(r.strip).contains(at) && y == inner(r.strip).y {
        let strip = inner(r.strip);
        let segments = segments(app, strip.width);
        let offset = x - strip.x;
        return segments
            .iter()
            .position(|(start, end)| (*start..*end).contains(&offset))
            .map(Hit::Shard);
    }
    let table = inner(r.table);
    if table.contains(at) {
        // The first line inside the border is the header.
        let row = (y - table.y).checked_sub(1)? as usize;
        return table_rows(app, table_room(r.table))
            .get(row)
            .map(|(i, _, _)| Hit::Shard(*i));
    }
    if inner(r.sending).contains(at) {
        return SETTINGS
            .get((y - inner(r.sending).y) as usize)
            .map(|s| Hit::Setting(*s));
    }
    [
        (r.composer, Pane::Composer),
        (r.keys, Pane::Keys),
        (r.sending, Pane::Sending),
        (r.table, Pane::Shards),
        (r.strip, Pane::Shards),
    ]
    .into_iter()
    .find(|(rect, _)| rect.contains(at))
    .map(|(_, pane)| Hit::Pane(pane))
}

/// A pane's frame, highlighted when it has the focus.
fn pane_block(app: &App, pane: Option<Pane>, title: String) -> Block<'static> {
    let focused = pane.is_some_and(|p| p == app.focus);
    let style = if focused {
        Style::new()
            .fg(SELECTED_COLOUR)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    Block::new()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(title, style))
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
    let state = if app.quitting {
        Span::styled(
            format!(" quitting: sending {pending} pending, q again quits now "),
            Style::new().fg(Color::Black).bg(Color::Magenta),
        )
    } else if app.sending {
        Span::styled(
            match app.shape {
                RateShape::Constant(r) => format!(" sending {r}/s "),
                ref shape => format!(" sending {shape} "),
            },
            Style::new().fg(Color::Black).bg(Color::Green),
        )
    } else {
        Span::styled(" paused ", Style::new().fg(Color::Black).bg(Color::Yellow))
    };
    let mut first = vec![
        Span::styled(" kwb ", Style::new().add_modifier(Modifier::BOLD)),
        state,
    ];
    if app.frozen {
        first.push(Span::styled(
            " FROZEN ",
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ));
    }
    if app.view_source != ViewSource::Producer {
        first.push(Span::styled(
            match app.view_source {
                ViewSource::Server => " numbers: the stream's ",
                _ => " numbers: kwb and stream ",
            },
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ));
    }
    first.push(Span::raw(format!(
        " key {} | {} on {} | {} shards",
        app.strategy_spec,
        app.stream,
        app.target,
        app.map.open_count()
    )));
    let second = Line::from(format!(
        " ?:help q:quit | {rate} rec/s | ok {} | failed {} | throttled {} | retries {} | pending {pending}",
        sum(|s| s.user_records),
        app.metrics.failed(),
        sum(|s| s.throttled),
        sum(|s| s.retries),
    ));
    frame.render_widget(Paragraph::new(vec![Line::from(first), second]), area);
}

/// Each open shard's columns on a strip `width` wide: [start, end), as wide as its share of the
/// hash-key space, at least one column each.
fn segments(app: &App, width: u16) -> Vec<(u16, u16)> {
    let open: Vec<_> = app.map.open_shards().collect();
    let mut out = Vec::with_capacity(open.len());
    let (mut used, mut cumulative) = (0u16, 0.0f64);
    for (i, shard) in open.iter().enumerate() {
        cumulative += shard.share_of_key_space();
        let end = if i + 1 == open.len() {
            width
        } else {
            ((cumulative * width as f64).round() as u16)
                .max(used + 1)
                .min(width)
        };
        out.push((used, end));
        used = end;
    }
    out
}

fn shard_strip(app: &App, frame: &mut Frame, area: Rect) {
    let block = pane_block(
        app,
        None,
        " hash-key space: width = share of keys, colour = use of write limit, ▲ = last keys "
            .into(),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let open: Vec<_> = app.map.open_shards().collect();
    if open.is_empty() || inner.width == 0 {
        return;
    }
    let mut spans = Vec::new();
    for (i, (start, end)) in segments(app, inner.width).into_iter().enumerate() {
        let w = (end - start) as usize;
        let u = load::shown(app, &open[i].shard_id).utilisation();
        let label = marked(app, &open[i].shard_id, format!("{:.0}%", u * 100.0));
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
    let width = inner.width as usize;
    let mut ticks = vec![' '; width];
    for hash in &app.sent.recent {
        let x = (*hash as f64 / 2f64.powi(128) * width as f64) as usize;
        ticks[x.min(width - 1)] = '▲';
    }
    let mut lines = vec![
        Line::from(spans),
        Line::styled(ticks.into_iter().collect::<String>(), Color::White),
    ];
    lines.extend(selected_detail(app));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The selected shard: its rates and the keys that land on it, the advice for it, what the
/// stream saw of it, then its range and parent.
fn selected_detail(app: &App) -> Vec<Line<'static>> {
    let Some(s) = app.map.open_shards().nth(app.selected) else {
        return Vec::new();
    };
    let empty = ShardSnapshot::default();
    let m = app.metrics.shards.get(&s.shard_id).unwrap_or(&empty);
    let top: Vec<String> = app
        .sent
        .top_keys
        .iter()
        .map(|k| format!("{} {:.0}%", k.key.escape_debug(), k.share * 100.0))
        .collect();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                s.shard_id.clone(),
                Style::new()
                    .fg(SELECTED_COLOUR)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                " {:.0} rec/s, {:.0}% of limit, {} throttled/s | top keys: {}",
                last_second(&m.records_per_sec),
                utilisation(m) * 100.0,
                last_second(&m.throttled_per_sec),
                if top.is_empty() {
                    "-".to_string()
                } else {
                    top.join(", ")
                }
            )),
        ]),
        Line::from(advice(app, &s.shard_id, m)),
    ];
    if let Some(stream) = load::stream(app, &s.shard_id) {
        lines.push(Line::from(format!(
            "stream saw {:.0} Kinesis rec/s (aggregates count once), {:.0}% of limit, {:.0} throttled/s{}",
            stream.records,
            stream.utilisation() * 100.0,
            stream.throttled,
            load::other_producers(app, &s.shard_id)
                .map(|n| format!(": ~{n:.0} rec/s from other producers"))
                .unwrap_or_default()
        )));
    }
    lines.push(Line::from(format!(
        "keys {}..{} ({:.1}%){}",
        s.starting_hash_key,
        s.ending_hash_key,
        s.share_of_key_space() * 100.0,
        s.parent_shard_id
            .as_deref()
            .map(|p| format!(" parent {p}"))
            .unwrap_or_default()
    )));
    lines
}

/// The hot-keys advice for the selected shard, from kwb's last complete second of sending and
/// the keys sent to it lately: what to do when it is hot (its rates are on the line above).
fn advice(app: &App, shard_id: &str, m: &ShardSnapshot) -> String {
    let last = load::producer(m);
    let shard = ShardLoad {
        stream: &app.stream,
        shard_id,
        records_per_sec: last_second(&m.records_per_sec) as f64,
        kinesis_records_per_sec: last.records,
        bytes_per_sec: last.bytes,
        busiest: None,
        top_key: app
            .sent
            .top_keys
            .first()
            .map(|k| (k.key.as_str(), k.share, k.bytes_share)),
        split_at: app.advised_split_at(shard_id),
    };
    let mut whole = StreamLoad {
        open_shards: app.map.open_count(),
        kinesis_records_per_sec: 0.0,
        bytes_per_sec: 0.0,
    };
    for open in app.map.open_shards() {
        if let Some(m) = app.metrics.shards.get(&open.shard_id) {
            let last = load::producer(m);
            whole.kinesis_records_per_sec += last.records;
            whole.bytes_per_sec += last.bytes;
        }
    }
    let advice = advise(&shard, &whole);
    if advice.hot {
        format!("hot: {}", advice.action)
    } else {
        "not hot".to_string()
    }
}

fn composer(app: &App, frame: &mut Frame, area: Rect) {
    let block = pane_block(app, Some(Pane::Composer), " composer (t, e) ".into());
    let mut lines = vec![Line::from(vec![
        Span::raw("source "),
        Span::styled(
            app.source.label(),
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ])];
    let sized = matches!(app.source, SourceChoice::Sized(_));
    match &app.sent.next {
        Some(next) => {
            lines.push(Line::from(format!(
                "next: {} B{}, key {}",
                next.bytes,
                if sized { " (↑↓ size)" } else { "" },
                next.partition_key
            )));
            lines.push(Line::styled(next.text.clone(), Color::Gray));
        }
        None => lines.push(Line::from("next: -")),
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn key_strategy(app: &App, frame: &mut Frame, area: Rect) {
    let block = pane_block(app, Some(Pane::Keys), " key strategy (k, e) ".into());
    let lines = vec![
        Line::styled(
            app.strategy_spec.clone(),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::styled(app.strategy_help(), Color::Gray),
    ];
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
}

fn sending(app: &App, frame: &mut Frame, area: Rect) {
    let block = pane_block(
        app,
        Some(Pane::Sending),
        " sending (space, +/-, a, o, b) ".into(),
    );
    let lines: Vec<Line> = SETTINGS
        .iter()
        .map(|s| {
            let unit = match (s, &app.shape) {
                (Setting::Rate, RateShape::Constant(_)) => "/s",
                _ => "",
            };
            let text = format!(" {:<12}{}{unit}", s.name(), app.setting_value(*s));
            if app.focus == Pane::Sending && *s == app.setting {
                Line::styled(text, Style::new().add_modifier(Modifier::REVERSED))
            } else {
                Line::from(text)
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Body rows a table of this height shows.
fn table_room(area: Rect) -> usize {
    area.height.saturating_sub(3) as usize
}

/// The rows of the shard table: every open shard in order, or, with more shards than room,
/// the hottest ones and the selected one. (index among open shards, id, metrics)
fn table_rows(app: &App, room: usize) -> Vec<(usize, &str, &ShardSnapshot)> {
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

fn shard_table(app: &App, frame: &mut Frame, area: Rect) {
    let header = Row::new([
        "shard", "rec/s", "KiB/s", "limit", "thr/s", "ok", "pending", "p99 ms", "fill",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let room = table_room(area);
    let rows = table_rows(app, room);
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

/// What a chart kind plots for a load (latency is not a load: see `producer_series`).
fn plotted(kind: ChartKind, load: load::Load) -> f64 {
    match kind {
        ChartKind::Limit => load.utilisation() * 100.0,
        ChartKind::Records => load.records,
        ChartKind::Bytes => load.bytes / 1024.0,
        ChartKind::Throttles | ChartKind::Latency => load.throttled,
    }
}

/// A chart kind's title and the shard limit it is drawn against, if it has one.
fn chart_labels(kind: ChartKind) -> (&'static str, Option<f64>) {
    match kind {
        ChartKind::Limit => ("% of write limit", Some(100.0)),
        ChartKind::Records => ("Kinesis records/s", Some(SHARD_RECORDS_PER_SEC)),
        ChartKind::Bytes => ("KiB/s", Some(SHARD_BYTES_PER_SEC / 1024.0)),
        ChartKind::Throttles => ("throttled records/s", None),
        ChartKind::Latency => ("put latency p99 ms (p50 of the selected)", None),
    }
}

/// A shard's series from kwb's producer over the last `window` complete seconds, x from
/// -window+1 to 0.
fn producer_series(kind: ChartKind, shard: &ShardSnapshot, window: usize) -> Vec<(f64, f64)> {
    let complete = shard.kinesis_records_per_sec.len().saturating_sub(1);
    let first = complete.saturating_sub(window);
    (first..complete)
        .map(|i| {
            let y = match kind {
                ChartKind::Latency => {
                    shard.latency_p99_us_per_sec.get(i).copied().unwrap_or(0) as f64 / 1000.0
                }
                _ => plotted(kind, load::producer_at(shard, i)),
            };
            (i as f64 - complete as f64 + 1.0, y)
        })
        .collect()
}

/// A shard's series as the stream saw it, over the last `window` seconds: one point per period
/// (1 s from the embedded server, 60 s from CloudWatch), none where the source has no data.
fn stream_series(
    kind: ChartKind,
    m: &StreamMetrics,
    shard: &StreamShard,
    window: usize,
) -> Vec<(f64, f64)> {
    let period = m.period.as_secs().max(1) as usize;
    let n = shard.incoming_records.len();
    // With 1-second periods the last one is the current, incomplete second.
    let complete = if period == 1 { n.saturating_sub(1) } else { n };
    (0..complete)
        .filter_map(|i| {
            let x = -(((complete - 1 - i) * period) as f64);
            let value =
                |series: &Series| series.get(i).copied().flatten().map(|v| v / period as f64);
            let load = load::Load {
                records: value(&shard.incoming_records)?,
                bytes: value(&shard.incoming_bytes).unwrap_or(0.0),
                throttled: value(&shard.write_throttled).unwrap_or(0.0),
            };
            (x > -(window as f64)).then(|| (x, plotted(kind, load)))
        })
        .collect()
}

/// Per-shard lines over time: the selected shard and the hottest few, each in its own colour,
/// the rest as one "others" line (their maximum), and the shard limit; the legend is a line of
/// its own under the chart, so it stays readable with any number of shards.
fn shard_chart(app: &App, frame: &mut Frame, area: Rect) {
    let kind = app.chart;
    let (title, limit) = chart_labels(kind);
    let window = app.window;
    let selected_id = app
        .map
        .open_shards()
        .nth(app.selected)
        .map(|s| s.shard_id.clone());
    // The stream's numbers where the view asks for them and there are some (latency is kwb's).
    let stream = app
        .server
        .as_ref()
        .filter(|_| app.view_source != ViewSource::Producer && kind != ChartKind::Latency);
    let all: Vec<(&String, Vec<(f64, f64)>)> = match stream {
        Some(m) => m
            .shards
            .iter()
            .map(|(id, s)| (id, stream_series(kind, m, s, window)))
            .collect(),
        None => app
            .metrics
            .shards
            .iter()
            .map(|(id, s)| (id, producer_series(kind, s, window)))
            .collect(),
    };
    // Beside the stream's numbers, "both" draws kwb's own line for the selected shard.
    let selected_kwb: Option<Vec<(f64, f64)>> = (stream.is_some()
        && app.view_source == ViewSource::Both)
        .then(|| {
            let s = app.metrics.shards.get(selected_id.as_ref()?)?;
            Some(producer_series(kind, s, window))
        })
        .flatten();
    let peak = |s: &[(f64, f64)]| s.iter().map(|p| p.1).fold(0.0, f64::max);
    let mut ranked: Vec<&(&String, Vec<(f64, f64)>)> = all
        .iter()
        .filter(|(id, _)| Some(*id) != selected_id.as_ref())
        .collect();
    ranked.sort_by(|a, b| peak(&b.1).total_cmp(&peak(&a.1)).then(a.0.cmp(b.0)));
    let (hot, rest) = ranked.split_at(HIGHLIGHTED.min(ranked.len()));
    // Every series of one snapshot covers the same seconds, so they line up from the end.
    let longest = all.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
    let mut others: Vec<(f64, f64)> = (0..longest)
        .map(|j| (j as f64 - longest as f64 + 1.0, 0.0))
        .collect();
    for (_, s) in rest {
        for (point, max) in s.iter().rev().zip(others.iter_mut().rev()) {
            max.1 = max.1.max(point.1);
        }
    }
    let limit_line = limit.map(|l| vec![(1.0 - window as f64, l), (0.0, l)]);
    let selected_p50: Option<Vec<(f64, f64)>> = (kind == ChartKind::Latency)
        .then(|| {
            let id = selected_id.as_ref()?;
            let s = app.metrics.shards.get(id)?;
            let complete = s.latency_p50_us_per_sec.len().saturating_sub(1);
            let first = complete.saturating_sub(window);
            Some(
                (first..complete)
                    .map(|i| {
                        (
                            i as f64 - complete as f64 + 1.0,
                            s.latency_p50_us_per_sec[i] as f64 / 1000.0,
                        )
                    })
                    .collect(),
            )
        })
        .flatten();
    let line = |data, colour: Color| {
        Dataset::default()
            .graph_type(GraphType::Line)
            .marker(symbols::Marker::Braille)
            .style(Style::new().fg(colour))
            .data(data)
    };
    let mut datasets = Vec::new();
    let mut legend = vec![Span::raw(" ")];
    let mut name = |text: String, colour: Color| {
        legend.push(Span::styled(format!("━ {text}  "), Style::new().fg(colour)));
    };
    if let Some(l) = &limit_line {
        datasets.push(line(l, Color::DarkGray).marker(symbols::Marker::Dot));
        name("limit".into(), Color::DarkGray);
    }
    if !rest.is_empty() {
        datasets.push(line(&others, Color::Gray));
        name(format!("{} others (max)", rest.len()), Color::Gray);
    }
    for (i, (id, s)) in hot.iter().enumerate() {
        datasets.push(line(s, COLOURS[i]));
        name(short_id(id), COLOURS[i]);
    }
    let selected_series = all.iter().find(|(id, _)| Some(*id) == selected_id.as_ref());
    if let Some((id, s)) = selected_series {
        datasets.push(line(s, SELECTED_COLOUR));
        name(format!("{} (selected)", short_id(id)), SELECTED_COLOUR);
    }
    if let Some(p50) = &selected_p50 {
        datasets.push(line(p50, Color::Blue));
        name("p50 selected".into(), Color::Blue);
    }
    if let Some(kwb) = &selected_kwb {
        datasets.push(line(kwb, Color::Green));
        name("selected, kwb only".into(), Color::Green);
    }
    let top = all
        .iter()
        .map(|(_, s)| peak(s))
        .chain(limit)
        .fold(1.0, f64::max)
        .ceil();
    let block = Block::new().borders(Borders::ALL).title(format!(
        " {title}{}, {window} s (c, w) ",
        match stream {
            Some(m) => format!(" as the stream saw it ({})", m.source.name()),
            None => String::new(),
        }
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [plot, legend_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(inner);
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([1.0 - window as f64, 0.0])
                .labels([format!("-{window}s"), "now".into()]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(["0".to_string(), format!("{top:.0}")]),
        );
    frame.render_widget(chart, plot);
    frame.render_widget(Paragraph::new(Line::from(legend)), legend_area);
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

/// The editor line, over the events pane.
fn editor(app: &App, frame: &mut Frame, area: Rect) {
    let Some(editor) = &app.editor else {
        return;
    };
    let what = match editor.field {
        EditField::Template => "template (inline, or a file's path)".to_string(),
        EditField::Strategy => "key strategy (e.g. zipf:1000:1.2, fixed:KEY)".to_string(),
        EditField::Setting(s) => s.name().to_string(),
    };
    let mut lines = vec![Line::from(vec![
        Span::raw(editor.text.clone()),
        Span::styled("▏", Style::new().fg(SELECTED_COLOUR)),
    ])];
    if let Some(error) = &editor.error {
        lines.push(Line::styled(error.clone(), Color::Red));
    }
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(SELECTED_COLOUR))
        .title(format!(" edit {what}: enter applies, esc cancels "));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn help(frame: &mut Frame) {
    let area = frame.area();
    let width = 60.min(area.width);
    let height = (KEYS.len() as u16 + 2).min(area.height);
    let popup = Rect::new(
        (area.width - width) / 2,
        (area.height - height) / 2,
        width,
        height,
    );
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| Line::from(format!(" {k:<12}{what}")))
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
    use crate::hot_keys::KeyShare;
    use crate::kinesis::hash_key::HashKey;
    use crate::kinesis::shard_map::ShardMap;
    use crate::producer::metrics::MetricsSnapshot;
    use crate::tui::app::{update, Key, Msg};
    use crate::tui::keylog::{Preview, SentView};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::sync::Arc;
    use std::time::Duration;

    /// A shard that delivered `records` user records (in `kinesis` Kinesis records) and `bytes`
    /// in each of the last 60 complete seconds, `throttled` of them throttled in the last one.
    fn shard(records: u64, kinesis: u64, bytes: u64, throttled: u64) -> ShardSnapshot {
        let series = |v: u64| {
            let mut s: Vec<u64> = (0..60).map(|i| v * (i + 40) / 100).collect();
            s.push(0);
            s
        };
        let mut throttled_per_sec = vec![0; 61];
        throttled_per_sec[59] = throttled;
        ShardSnapshot {
            user_records: records * 10,
            kinesis_records: kinesis * 10,
            bytes: bytes * 10,
            throttled,
            latency_p99: Duration::from_millis(120),
            records_per_sec: series(records),
            kinesis_records_per_sec: series(kinesis),
            bytes_per_sec: series(bytes),
            throttled_per_sec,
            latency_p50_us_per_sec: series(20_000),
            latency_p99_us_per_sec: series(120_000),
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
        update(
            &mut app,
            Msg::Sent(SentView {
                recent: (0..8u128).map(|i| i * (u128::MAX / 8) + 12345).collect(),
                top_keys: vec![key_share("user-17", 412, 509), key_share("user-3", 97, 509)],
                split_at: (Some(HashKey(u128::MAX / 3)), None),
                next: Some(Preview {
                    partition_key: "9b2f6c1e".into(),
                    text: r#"{"event_id":"4f1c","user_id":"u-1834","event":"page_view"}"#.into(),
                    bytes: 66,
                }),
            }),
        );
        app
    }

    fn key_share(key: &str, records: u64, of: u64) -> KeyShare {
        KeyShare {
            key: key.into(),
            records,
            bytes: records * 100,
            share: records as f64 / of as f64,
            bytes_share: records as f64 / of as f64,
            error: 0,
        }
    }

    fn draw(app: &App, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| view(app, frame)).unwrap();
        terminal.backend().to_string()
    }

    fn press(app: &mut App, key: Key) {
        update(app, Msg::Key(key));
    }

    #[test]
    fn screens_at_both_sizes() {
        let idle = App::new(
            "kwb-demo",
            "embedded ferrokinesis at http://127.0.0.1:4567",
            Arc::new(ShardMap::even_split(4)),
        );
        let mut random = app(&[
            (0, shard(250, 10, 30_000, 0)),
            (1, shard(240, 10, 29_000, 0)),
            (2, shard(260, 11, 31_000, 0)),
            (3, shard(250, 10, 30_000, 0)),
        ]);
        press(&mut random, Key::Char(' '));
        let mut hot = app(&[(2, shard(9000, 20, 1_040_000, 0))]);
        press(&mut hot, Key::Char(' '));
        press(&mut hot, Key::Char('k'));
        press(&mut hot, Key::Right);
        press(&mut hot, Key::Right);
        let mut throttled = app(&[
            (1, shard(1000, 1000, 600_000, 140)),
            (2, shard(400, 400, 50_000, 0)),
        ]);
        press(&mut throttled, Key::Char(' '));
        press(&mut throttled, Key::Char('a'));
        press(&mut throttled, Key::Right);
        update(
            &mut throttled,
            Msg::Event("throttled on shardId-000000000001; the limiter slows it down".into()),
        );
        update(
            &mut throttled,
            Msg::Event("throttled on shardId-000000000001; the limiter slows it down".into()),
        );
        let mut error = app(&[(0, shard(10, 10, 1_000, 0))]);
        update(
            &mut error,
            Msg::Event("120 records failed: Expired (dispatch failure: connection refused)".into()),
        );
        let mut help = app(&[]);
        press(&mut help, Key::Char('?'));
        // The stream saw 900 records/s on shard 1, of which kwb sent 250: other producers.
        let mut others = app(&[
            (0, shard(250, 250, 30_000, 0)),
            (1, shard(250, 250, 30_000, 0)),
        ]);
        let mut stream = crate::stream_metrics::StreamMetrics {
            stream: "kwb-demo".into(),
            source: crate::stream_metrics::Source::Server,
            period: Duration::from_secs(1),
            shards: Default::default(),
            stream_level: Default::default(),
        };
        for (i, records) in [(0, 250.0), (1, 900.0), (2, 0.0), (3, 0.0)] {
            let series: Series = (0..61)
                .map(|t| Some(if t < 60 { records } else { 0.0 }))
                .collect();
            stream.shards.insert(
                format!("shardId-00000000000{i}"),
                StreamShard {
                    incoming_records: series.clone(),
                    incoming_bytes: series.iter().map(|v| v.map(|r| r * 120.0)).collect(),
                    write_throttled: vec![Some(0.0); 61],
                    ..Default::default()
                },
            );
        }
        update(&mut others, Msg::Server(stream));
        press(&mut others, Key::Char(' '));
        press(&mut others, Key::Char('s'));
        press(&mut others, Key::Right);
        let mut reshard = app(&[(2, shard(9000, 20, 1_040_000, 0))]);
        reshard.selected = 2;
        press(&mut reshard, Key::Char('S'));
        let mut editing = app(&[]);
        editing.focus = crate::tui::app::Pane::Keys;
        press(&mut editing, Key::Enter);
        press(&mut editing, Key::Char(':'));
        press(&mut editing, Key::Enter);
        for (name, app) in [
            ("idle", &idle),
            ("random", &random),
            ("hot", &hot),
            ("throttled", &throttled),
            ("error", &error),
            ("help", &help),
            ("editing", &editing),
            ("other_producers", &others),
            ("reshard", &reshard),
        ] {
            for (w, h) in [(80, 24), (120, 40)] {
                insta::assert_snapshot!(format!("tui_{name}_{w}x{h}"), draw(app, w, h));
            }
        }
    }

    #[test]
    fn every_chart_kind_draws_with_its_legend() {
        let mut a = app(&[
            (0, shard(900, 900, 1000, 3)),
            (1, shard(500, 500, 1000, 0)),
            (2, shard(300, 300, 1000, 0)),
            (3, shard(100, 100, 1000, 0)),
        ]);
        for expected in [
            "Kinesis records/s",
            "KiB/s",
            "throttled records/s",
            "latency p99",
            "% of write limit",
        ] {
            press(&mut a, Key::Char('c'));
            let screen = draw(&a, 120, 40);
            assert!(screen.contains(expected), "{expected}:\n{screen}");
            assert!(screen.contains("#0 (selected)"), "{screen}");
        }
    }

    #[test]
    fn m_shows_the_cost_question() {
        let mut a = app(&[]);
        press(&mut a, Key::Char('m'));
        let screen = draw(&a, 80, 24);
        assert!(screen.contains("enhanced monitoring"), "{screen}");
        assert!(screen.contains("bills"), "{screen}");
    }

    #[test]
    fn quitting_says_what_is_pending_and_how_to_quit_now() {
        let mut a = app(&[(1, shard(1000, 1000, 600_000, 0))]);
        let mut snapshot = a.metrics.clone();
        snapshot.shards.values_mut().for_each(|s| s.pending = 1234);
        update(&mut a, Msg::Metrics(snapshot));
        press(&mut a, Key::Char('q'));
        let screen = draw(&a, 120, 40);
        assert!(
            screen.contains("quitting: sending 1234 pending, q again quits now"),
            "{screen}"
        );
    }

    #[test]
    fn utilisation_is_the_higher_of_records_and_bytes_against_the_limits() {
        assert!((utilisation(&shard(9000, 20, 1_048_576 * 100 / 99, 0)) - 1.0).abs() < 1e-6);
        assert!((utilisation(&shard(500, 500, 1000, 0)) - 0.495).abs() < 1e-9);
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

    #[test]
    fn closed_shards_follow_the_open_ones_greyed() {
        let even = ShardMap::even_split(2);
        let mut shards = even.shards().to_vec();
        let mut parent = shards[0].clone();
        parent.shard_id = "shardId-000000000009".into();
        parent.open = false;
        shards.push(parent);
        let map = ShardMap::new(shards);
        let app = App::new("s", "t", Arc::new(map));
        let screen = draw(&app, 120, 40);
        let row = screen
            .lines()
            .find(|l| l.contains("000000000009"))
            .unwrap_or_else(|| panic!("{screen}"));
        assert!(row.contains("closed"), "{row}");
        assert_eq!(app.map.open_count(), 2);
    }

    #[test]
    fn clicks_find_the_shard_under_the_mouse() {
        let app = app(&[(3, shard(900, 900, 1000, 0))]);
        let area = Rect::new(0, 0, 120, 40);
        let r = Regions::of(area);
        let strip_y = r.strip.y + 1;
        // The strip is 118 columns inside its border: four shards of about 30 columns.
        assert_eq!(hit(&app, area, 1, strip_y), Some(Hit::Shard(0)));
        assert_eq!(hit(&app, area, 118, strip_y), Some(Hit::Shard(3)));
        assert_eq!(hit(&app, area, 61, strip_y), Some(Hit::Shard(2)));
        // Table rows follow the header, in shard order when all fit.
        assert_eq!(hit(&app, area, 3, r.table.y + 2), Some(Hit::Shard(0)));
        assert_eq!(hit(&app, area, 3, r.table.y + 5), Some(Hit::Shard(3)));
        assert_eq!(
            hit(&app, area, r.sending.x + 2, r.sending.y + 3),
            Some(Hit::Setting(Setting::BufferTime))
        );
        assert_eq!(
            hit(&app, area, r.keys.x + 2, r.keys.y + 2),
            Some(Hit::Pane(Pane::Keys))
        );
        assert_eq!(hit(&app, area, 0, 0), None);
    }
}
