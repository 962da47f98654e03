//! The question the workbench asks before doing something that costs money (shard-level
//! metrics) or cannot be undone (a split or a merge): `y` does it, any other key does not.

use crate::kinesis::admin::on_demand_refusal;
use crate::kinesis::reshard::{plan, Plan, Reshard};
use crate::kinesis::shard_map::ShardInfo;
use crate::tui::app::{App, Effect, Key};
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// A question the workbench waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    EnableShardMetrics,
    /// A split or merge of the stream's shards, as planned against the shard map.
    Reshard(Plan),
}

impl App {
    /// Plans a split of the selected shard (where its advice would split it, else in the middle)
    /// or a merge with the next open shard by hash key (the one before, for the last) and asks
    /// before doing it; a change that cannot be made is said in the events.
    pub(crate) fn ask_to_reshard(&mut self, split: bool) {
        if let Some(plan) = self.plan_reshard(split) {
            self.confirm = Some(Confirm::Reshard(plan));
        }
    }

    /// Plans making the stream `text` open shards of equal ranges and asks before doing it; a
    /// count that cannot be is said in the editor.
    pub(crate) fn ask_to_scale(&mut self, text: &str) -> Result<(), String> {
        if self.facts.on_demand {
            return Err(on_demand_refusal(&self.stream));
        }
        if self.resharding {
            return Err("a reshard is under way: one at a time".into());
        }
        let count: u32 = text
            .parse()
            .map_err(|_| format!("{text:?}: a number of shards"))?;
        let plan =
            plan(&self.stream, &self.map, &Reshard::Scale { count }).map_err(|e| e.to_string())?;
        self.confirm = Some(Confirm::Reshard(plan));
        Ok(())
    }

    /// Splits the selected shard as `S` would, without asking (a scenario's stage said so);
    /// whether it goes ahead.
    pub(crate) fn reshard_selected_now(&mut self) -> bool {
        let Some(plan) = self.plan_reshard(true) else {
            return false;
        };
        self.resharding = true;
        self.effects.push(Effect::Reshard(plan));
        true
    }

    fn plan_reshard(&mut self, split: bool) -> Option<Plan> {
        if self.facts.on_demand {
            self.event(on_demand_refusal(&self.stream));
            return None;
        }
        if self.resharding {
            self.event("a reshard is under way: one at a time".into());
            return None;
        }
        let open: Vec<&ShardInfo> = self.map.open_shards().collect();
        let selected = open.get(self.selected)?;
        let change = if split {
            // Advice of a shard the map has moved on from falls back to the middle.
            let at = self.advised_split_at(&selected.shard_id);
            Reshard::Split {
                shard: selected.shard_id.clone(),
                at: at.filter(|k| selected.contains(*k) && k.0 > selected.starting_hash_key),
            }
        } else {
            let neighbour = open
                .get(self.selected + 1)
                .or_else(|| open.get(self.selected.wrapping_sub(1)));
            let Some(neighbour) = neighbour else {
                self.event("a stream of one open shard has nothing to merge".into());
                return None;
            };
            Reshard::Merge {
                shard: selected.shard_id.clone(),
                adjacent: neighbour.shard_id.clone(),
            }
        };
        match plan(&self.stream, &self.map, &change) {
            Ok(plan) => Some(plan),
            Err(e) => {
                self.event(e.to_string());
                None
            }
        }
    }

    /// The answer to the open question: `y` does it.
    pub(crate) fn answer(&mut self, key: Key) {
        let confirm = self.confirm.take();
        if key != Key::Char('y') {
            return;
        }
        self.effects.push(match confirm {
            Some(Confirm::Reshard(plan)) => {
                self.resharding = true;
                Effect::Reshard(plan)
            }
            _ => Effect::EnableShardMetrics,
        });
    }
}

pub fn draw(app: &App, frame: &mut Frame) {
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
