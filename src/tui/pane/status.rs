//! The status bar: whether kwb is sending and at what rate, the stream and target, and the
//! running totals.

use crate::compose::rate::RateShape;
use crate::producer::metrics::ShardSnapshot;
use crate::tui::app::{App, ViewSource};
use crate::tui::view::last_second;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
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
    let mode = match (app.facts.on_demand, app.facts.auto_distribution) {
        (_, true) => " (on-demand, AUTO placement)",
        (true, false) => " (on-demand)",
        _ => "",
    };
    first.push(Span::raw(format!(
        " key {} | {} on {} | {} shards{mode}",
        app.strategy_spec,
        app.stream,
        app.target,
        app.map.open_count()
    )));
    let second = Line::from(format!(
        " ?:help q:quit | {rate} rec/s | {:.0} calls/s | ok {} | failed {} | throttled {} | retries {} | pending {pending}",
        app.calls_per_sec,
        sum(|s| s.user_records),
        app.metrics.failed(),
        sum(|s| s.throttled),
        sum(|s| s.retries),
    ));
    frame.render_widget(Paragraph::new(vec![Line::from(first), second]), area);
}
