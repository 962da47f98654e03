//! The hash-key strip: every open shard as wide as its share of the 128-bit key space, coloured
//! by its use of the write limit, ticks where the last keys landed; under it the selected
//! shard's rates, its busiest keys, the advice for it and its range.

use crate::hot_keys::advice::{advise, ShardLoad, StreamLoad};
use crate::hot_keys::KeyShare;
use crate::kinesis::hash_key::HashKey;
use crate::producer::metrics::ShardSnapshot;
use crate::tui::app::App;
use crate::tui::load;
use crate::tui::view::{heat, last_second, marked, pane_block, utilisation, SELECTED_COLOUR};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

impl App {
    /// Where the selected shard's advice would split it: by the limit it is nearer in kwb's
    /// last complete second of sending.
    pub fn advised_split_at(&self, shard_id: &str) -> Option<HashKey> {
        let bytes_bind = self
            .metrics
            .shards
            .get(shard_id)
            .is_some_and(|m| load::producer(m).bytes_bind());
        self.sent.split_at(bytes_bind)
    }
}

/// Each open shard's columns on a strip `width` wide: [start, end), as wide as its share of the
/// hash-key space, at least one column each.
pub fn segments(app: &App, width: u16) -> Vec<(u16, u16)> {
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

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
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
    let mut lines = vec![Line::from(spans)];
    let detail = selected_detail(app);
    // Short of room (under 30 rows) the selected shard's rates and advice go before the ticks.
    if inner.height >= 4 {
        lines.push(Line::styled(
            ticks.into_iter().collect::<String>(),
            Color::White,
        ));
    }
    lines.extend(detail);
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
        top_key: app.sent.top_keys.first().map(KeyShare::weight),
        split_at: app.advised_split_at(shard_id),
    };
    let mut whole = StreamLoad {
        on_demand: app.facts.on_demand,
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
