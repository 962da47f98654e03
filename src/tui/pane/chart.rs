//! The chart pane: per-shard lines over time (use of the write limit, records, bytes, throttles
//! or latency), from kwb's producer or as the stream saw them.

use crate::producer::config::{SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};
use crate::producer::metrics::ShardSnapshot;
use crate::stream_metrics::{Series, ShardSeries as StreamShard, StreamMetrics};
use crate::tui::app::{App, ViewSource};
use crate::tui::load;
use crate::tui::view::SELECTED_COLOUR;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

/// Shards the charts draw one by one (the selected one besides); the rest are one line.
const HIGHLIGHTED: usize = 3;
const COLOURS: [Color; HIGHLIGHTED] = [Color::Red, Color::Yellow, Color::Magenta];
/// Chart windows `w` cycles through, seconds.
pub const WINDOWS: &[usize] = &[60, 120, 300];

/// What the charts plot per shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Use of the write limit, %.
    Limit,
    Records,
    Bytes,
    Throttles,
    /// p50 and p99 put latency.
    Latency,
}

pub const CHARTS: [ChartKind; 5] = [
    ChartKind::Limit,
    ChartKind::Records,
    ChartKind::Bytes,
    ChartKind::Throttles,
    ChartKind::Latency,
];

fn short_id(shard_id: &str) -> String {
    let n = shard_id
        .trim_start_matches("shardId-")
        .trim_start_matches('0');
    format!("#{}", if n.is_empty() { "0" } else { n })
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
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
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
