//! The editor line, over the events pane: `e` or `enter` types a value for the focused pane (a
//! template or a file's path, a key strategy, a setting); `enter` applies it or says why not.

use crate::tui::app::{App, Key, Pane};
use crate::tui::pane::sending::Setting;
use crate::tui::view::SELECTED_COLOUR;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

const MAX_INPUT: usize = 4096;

/// What is being typed into the editor line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditField {
    /// A template: inline text, or the path of a file.
    Template,
    Strategy,
    Setting(Setting),
    /// The stream's open shards, for a uniform reshard (`#`).
    ShardCount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    pub field: EditField,
    pub text: String,
    /// Why the last `enter` was refused.
    pub error: Option<String>,
}

impl App {
    /// Opens the editor on the focused pane's value.
    pub(crate) fn open_editor(&mut self) {
        let (field, text) = match self.focus {
            Pane::Composer => (
                EditField::Template,
                self.source
                    .template()
                    .unwrap_or_default()
                    .trim_end()
                    .to_string(),
            ),
            Pane::Keys => (EditField::Strategy, self.strategy_spec.clone()),
            Pane::Sending => (
                EditField::Setting(self.setting),
                self.setting_value(self.setting),
            ),
            Pane::Shards => return,
        };
        self.editor = Some(Editor {
            field,
            text,
            error: None,
        });
    }

    /// `#`: the editor on the stream's open shard count.
    pub(crate) fn open_shard_count_editor(&mut self) {
        self.editor = Some(Editor {
            field: EditField::ShardCount,
            text: self.map.open_count().to_string(),
            error: None,
        });
    }

    /// Applies what was typed, or says why not.
    fn apply_edit(&mut self, field: EditField, text: &str) -> Result<(), String> {
        let text = text.trim();
        match field {
            EditField::Template => self.apply_template(text),
            EditField::Strategy => self.set_strategy(text),
            EditField::Setting(setting) => self.apply_setting(setting, text),
            EditField::ShardCount => self.ask_to_scale(text),
        }
    }

    /// A key while the editor is open.
    pub(crate) fn edit_key(&mut self, key: Key) {
        let Some(editor) = self.editor.as_mut() else {
            return;
        };
        match key {
            Key::Esc => self.editor = None,
            Key::Enter => {
                let (field, text) = (editor.field, editor.text.clone());
                match self.apply_edit(field, &text) {
                    Ok(()) => self.editor = None,
                    Err(e) => {
                        if let Some(editor) = self.editor.as_mut() {
                            editor.error = Some(e);
                        }
                    }
                }
            }
            Key::Backspace => {
                editor.text.pop();
            }
            Key::Char(c) if editor.text.len() < MAX_INPUT => editor.text.push(c),
            _ => {}
        }
    }
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let Some(editor) = &app.editor else {
        return;
    };
    let what = match editor.field {
        EditField::Template => "template (inline, or a file's path)".to_string(),
        EditField::Strategy => "key strategy (e.g. zipf:1000:1.2, fixed:KEY)".to_string(),
        EditField::Setting(s) => s.name().to_string(),
        EditField::ShardCount => "the stream's open shards (half to double today's)".to_string(),
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
