//! The events pane: what is worth telling the user (errors, throttles, reshards), newest first,
//! repeats counted rather than listed.

use crate::tui::app::App;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

const MAX_EVENTS: usize = 50;

impl App {
    /// Tells the user something: a repeat counts on the earlier line.
    pub(crate) fn event(&mut self, text: String) {
        match self.events.iter_mut().find(|(t, _)| *t == text) {
            Some((_, n)) => *n += 1,
            None => {
                self.events.push_front((text, 1));
                self.events.truncate(MAX_EVENTS);
            }
        }
    }
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
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
