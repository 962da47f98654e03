//! The help overlay (`?`): every key and what it does.

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

/// Every key and what it does.
pub const KEYS: &[(&str, &str)] = &[
    ("space", "start or pause sending"),
    ("+ / -", "raise or lower the rate"),
    ("k", "next key strategy"),
    ("t", "next record source (sized, shipped templates)"),
    ("a", "aggregation on/off (the api setting: 3 ways)"),
    ("o / b", "send one record / a burst now"),
    ("tab", "next pane: shards, composer, keys, sending"),
    ("arrows", "in the focused pane: shard, template/size,"),
    ("", "strategy, or setting (up/down) and value"),
    ("e / enter", "edit: template or file, strategy, setting"),
    ("c / w", "chart: what it plots / how far back"),
    ("s", "numbers of: kwb's producer, the stream, both"),
    ("m", "turn on CloudWatch shard metrics (asks)"),
    ("S / M", "split the selected shard where its advice says"),
    ("", "/ merge it with the next one (each asks first)"),
    ("#", "set the stream's shard count (asks first)"),
    ("f", "freeze the display (sending goes on)"),
    ("n", "demo: the next stage now"),
    ("mouse", "click a shard, a pane or a setting"),
    ("?", "this help"),
    ("q / esc", "quit once what is pending is sent; again: now"),
];

pub fn draw(frame: &mut Frame) {
    let area = frame.area();
    let width = 62.min(area.width);
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
