//! The sending pane: the rate and the producer settings, stepped with the arrows or typed in;
//! among them the three ways to produce (aggregated records in PutRecords, plain PutRecords, one
//! PutRecord call a record), switched while sending so their costs show side by side.

use crate::compose::rate::RateShape;
use crate::producer::config::{Api, ProducerConfig, Tuning};
use crate::tui::app::{step, App, Pane};
use crate::tui::view::pane_block;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use std::time::Duration;

/// Rate steps for `+` and `-`, records/s.
pub const RATES: &[f64] = &[
    10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 5000.0, 8000.0, 16000.0,
];
const BUFFER_MS: &[u64] = &[0, 10, 50, 100, 250, 500, 1_000, 5_000];
const LIMIT_PERCENT: &[f64] = &[25.0, 50.0, 80.0, 90.0, 100.0, 110.0, 150.0, 200.0, 500.0];
const BURSTS: &[u64] = &[1, 10, 100, 1_000, 10_000, 100_000];

/// The settings of the sending pane, in their order there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Rate,
    /// How records go: aggregated in PutRecords, plain PutRecords, or PutRecord.
    Api,
    BufferTime,
    RateLimit,
    Burst,
}

pub const SETTINGS: [Setting; 5] = [
    Setting::Rate,
    Setting::Api,
    Setting::BufferTime,
    Setting::RateLimit,
    Setting::Burst,
];

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Setting::Rate => "rate",
            Setting::Api => "api",
            Setting::BufferTime => "buffer",
            Setting::RateLimit => "rate limit",
            Setting::Burst => "burst (b)",
        }
    }
}

/// The ways to produce, as shown and as they may be typed.
const WAYS: [(&str, &[&str]); 3] = [
    ("aggregated", &["aggregated", "kpl", "on"]),
    ("PutRecords", &["putrecords", "put-records", "off"]),
    ("PutRecord", &["putrecord", "put-record"]),
];

/// Which of `WAYS` a tuning sends by.
fn way(tuning: &Tuning) -> usize {
    match (tuning.api, tuning.aggregation) {
        (Api::PutRecord, _) => 2,
        (Api::PutRecords, true) => 0,
        (Api::PutRecords, false) => 1,
    }
}

fn set_way(tuning: &mut Tuning, way: usize) {
    (tuning.api, tuning.aggregation) = match way {
        0 => (Api::PutRecords, true),
        1 => (Api::PutRecords, false),
        _ => (Api::PutRecord, false),
    };
}

impl App {
    /// `a`: aggregation on, or off (plain PutRecords); from PutRecord, on.
    pub(crate) fn toggle_aggregation(&mut self) {
        let on = way(&self.tuning) == 0;
        set_way(&mut self.tuning, if on { 1 } else { 0 });
    }

    /// The current value of a setting, as shown and as the editor starts from.
    pub fn setting_value(&self, setting: Setting) -> String {
        match setting {
            Setting::Rate => match self.shape {
                RateShape::Constant(r) => format!("{r}"),
                ref shape => shape.to_string(),
            },
            Setting::Api => WAYS[way(&self.tuning)].0.into(),
            Setting::BufferTime => format!("{}ms", self.tuning.max_buffered_time.as_millis()),
            Setting::RateLimit => format!("{}%", self.tuning.rate_limit_percent),
            Setting::Burst => self.burst_size.to_string(),
        }
    }

    pub(crate) fn step_rate(&mut self, up: bool) {
        self.shape = match self.shape {
            RateShape::Constant(r) => RateShape::Constant(step(RATES, r, up)),
            RateShape::Max if !up => RateShape::Constant(*RATES.last().expect("rates")),
            ref shape => shape.scaled(if up { 2.0 } else { 0.5 }),
        };
    }

    pub(crate) fn step_setting(&mut self, setting: Setting, up: bool) {
        let mut tuning = self.tuning;
        match setting {
            Setting::Rate => self.step_rate(up),
            Setting::Api => {
                let n = WAYS.len();
                let next = (way(&tuning) + if up { 1 } else { n - 1 }) % n;
                set_way(&mut tuning, next);
            }
            Setting::BufferTime => {
                let ms = self.tuning.max_buffered_time.as_millis() as u64;
                tuning.max_buffered_time = Duration::from_millis(step(BUFFER_MS, ms, up));
            }
            Setting::RateLimit => {
                tuning.rate_limit_percent = step(LIMIT_PERCENT, tuning.rate_limit_percent, up)
            }
            Setting::Burst => self.burst_size = step(BURSTS, self.burst_size, up),
        }
        self.tuning = tuning;
    }

    /// Sets a setting from what was typed, or says why not.
    pub(crate) fn apply_setting(&mut self, setting: Setting, text: &str) -> Result<(), String> {
        let mut tuning = self.tuning;
        match setting {
            Setting::Rate => self.shape = text.parse().map_err(|e| format!("{e}"))?,
            Setting::Api => {
                let typed = text.to_ascii_lowercase();
                let i = WAYS
                    .iter()
                    .position(|(_, names)| names.contains(&typed.as_str()))
                    .ok_or_else(|| {
                        format!("api {text:?}: aggregated, put-records or put-record")
                    })?;
                set_way(&mut tuning, i);
            }
            Setting::BufferTime => {
                let with_unit = if text.chars().all(|c| c.is_ascii_digit()) {
                    format!("{text}ms")
                } else {
                    text.to_string()
                };
                tuning.max_buffered_time = humantime::parse_duration(&with_unit)
                    .map_err(|e| format!("buffer time {text:?}: {e}; e.g. 100ms or 1s"))?;
            }
            Setting::RateLimit => {
                tuning.rate_limit_percent = text
                    .trim_end_matches('%')
                    .parse()
                    .map_err(|_| format!("rate limit {text:?}: a percentage, e.g. 80"))?;
            }
            Setting::Burst => {
                self.burst_size = text
                    .parse()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or_else(|| format!("burst {text:?}: 1 to 1000000 records"))?;
            }
        }
        ProducerConfig::default()
            .tuned(tuning)
            .map_err(|e| e.to_string())?;
        self.tuning = tuning;
        Ok(())
    }
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
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
            let text = format!(" {:<11}{}{unit}", s.name(), app.setting_value(*s));
            if app.focus == Pane::Sending && *s == app.setting {
                Line::styled(text, Style::new().add_modifier(Modifier::REVERSED))
            } else {
                Line::from(text)
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
