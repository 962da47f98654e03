//! The key-strategy pane: how partition keys (or explicit hash keys) are chosen, with a line
//! that explains the current strategy.

use crate::compose::keys::STRATEGY_HELP;
use crate::tui::app::{App, Pane};
use crate::tui::view::pane_block;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

/// The key strategies `k` cycles through.
pub const STRATEGIES: &[&str] = &[
    "random",
    "fixed:hot-key",
    "shard-round-robin",
    "zipf:100:1.2",
    "seq",
    "field:/user_id",
];

impl App {
    /// The one-line explanation of the current key strategy.
    pub fn strategy_help(&self) -> &'static str {
        let name = |spec: &str| spec.split(':').next().unwrap_or_default().to_string();
        let current = name(&self.strategy_spec);
        STRATEGY_HELP
            .iter()
            .find(|(syntax, _)| name(syntax) == current)
            .map_or("", |(_, what)| what)
    }

    /// Sets the strategy from its spec, or says why it cannot.
    pub(crate) fn set_strategy(&mut self, spec: &str) -> Result<(), String> {
        self.strategy = spec.parse().map_err(|e| format!("{e}"))?;
        self.strategy_spec = spec.to_string();
        Ok(())
    }

    pub(crate) fn step_strategy(&mut self, forward: bool) {
        let n = STRATEGIES.len();
        let at = STRATEGIES.iter().position(|s| *s == self.strategy_spec);
        let next = match at {
            Some(i) => (i + if forward { 1 } else { n - 1 }) % n,
            None => 0,
        };
        self.set_strategy(STRATEGIES[next])
            .expect("built-in strategies parse");
    }
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
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
