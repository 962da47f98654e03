//! The composer pane: where the records' data comes from (sized payloads, a shipped template, a
//! typed or loaded one) and a preview of the next record.

use crate::compose::builtin::TEMPLATES;
use crate::compose::template::Template;
use crate::tui::app::{step, App, Effect, Pane};
use crate::tui::view::pane_block;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;
use std::path::PathBuf;

/// Payload sizes the composer steps through, bytes.
pub const SIZES: &[usize] = &[
    10, 100, 512, 1_000, 10_000, 50_000, 100_000, 500_000, 1_000_000,
];

/// Where the workbench's record data comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceChoice {
    /// Payloads of this many bytes that start with the record's number.
    Sized(usize),
    /// One of the shipped templates (an index into `builtin::TEMPLATES`).
    Builtin(usize),
    /// A template typed in or loaded from a file; `name` says which.
    Custom { name: String, text: String },
}

impl SourceChoice {
    pub fn label(&self) -> String {
        match self {
            SourceChoice::Sized(n) => format!("{n} random bytes"),
            SourceChoice::Builtin(i) => format!("template {}", TEMPLATES[*i].0),
            SourceChoice::Custom { name, .. } => format!("template {name}"),
        }
    }

    /// The template text, for template sources.
    pub fn template(&self) -> Option<&str> {
        match self {
            SourceChoice::Sized(_) => None,
            SourceChoice::Builtin(i) => Some(TEMPLATES[*i].1),
            SourceChoice::Custom { text, .. } => Some(text),
        }
    }

    /// The next source round the ring: sized, then each shipped template, then round again; a
    /// custom template leaves the ring at the sized source.
    fn stepped(&self, forward: bool) -> SourceChoice {
        let ring = TEMPLATES.len() + 1;
        let position = match self {
            SourceChoice::Builtin(i) => i + 1,
            _ => 0,
        };
        match (position + if forward { 1 } else { ring - 1 }) % ring {
            0 => SourceChoice::Sized(100),
            i => SourceChoice::Builtin(i - 1),
        }
    }
}

impl App {
    pub(crate) fn step_source(&mut self, forward: bool) {
        self.source = self.source.stepped(forward);
    }

    pub(crate) fn step_size(&mut self, up: bool) {
        if let SourceChoice::Sized(n) = self.source {
            self.source = SourceChoice::Sized(step(SIZES, n, up));
        }
    }

    /// Takes typed text as a template if it looks like one, else as a file to load.
    pub(crate) fn apply_template(&mut self, text: &str) -> Result<(), String> {
        if looks_like_template(text) {
            Template::parse(text).map_err(|e| e.to_string())?;
            self.source = SourceChoice::Custom {
                name: "(typed)".into(),
                text: text.to_string(),
            };
        } else if text.is_empty() {
            return Err("type a template, or the path of a template file".into());
        } else {
            self.effects.push(Effect::LoadTemplate(PathBuf::from(text)));
        }
        Ok(())
    }

    /// A template file read for the composer, or why it could not be read.
    pub(crate) fn template_loaded(&mut self, path: PathBuf, result: Result<String, String>) {
        let parsed = result.and_then(|text| {
            Template::parse(text.trim_end())
                .map(|_| text)
                .map_err(|e| e.to_string())
        });
        match parsed {
            Ok(text) => {
                self.source = SourceChoice::Custom {
                    name: path.display().to_string(),
                    text,
                }
            }
            Err(e) => self.event(format!("template {}: {e}", path.display())),
        }
    }
}

/// Text typed into the composer is a template if it has a placeholder or looks like a document;
/// otherwise it names a file.
fn looks_like_template(text: &str) -> bool {
    text.contains("{{") || text.starts_with('{') || text.starts_with('[')
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
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
