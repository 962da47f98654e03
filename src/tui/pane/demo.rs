//! The demo pane: a guided scenario running in the workbench. Each stage sets what is sent
//! (source, key strategy, rate, API, rate limit) and may reshard, and the pane explains it
//! beside the live view; stages follow each other on their timer, or at once with `n`.

use crate::compose::builtin::TEMPLATES;
use crate::demo::scenario::{Action, Scenario, Stage};
use crate::kinesis::reshard::{plan, Reshard};
use crate::tui::app::{App, Effect};
use crate::tui::load;
use crate::tui::pane::composer::SourceChoice;
use crate::tui::pane::confirm::Confirm;
use crate::tui::pane::sending::Setting;
use crate::tui::view::SELECTED_COLOUR;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;
use std::time::{Duration, Instant};

/// A scenario under way.
#[derive(Debug, Clone, PartialEq)]
pub struct Demo {
    pub name: String,
    pub scenario: Scenario,
    /// The stage running (the last one once done).
    pub stage: usize,
    /// When it started; none before the first tick.
    pub started: Option<Instant>,
    pub now: Option<Instant>,
    /// Every stage has run.
    pub done: bool,
    /// The stage's split waits for the keys of the shard it selected.
    pub split_pending: bool,
    /// Reshards ask first (a stream other than the local server's).
    pub ask_first: bool,
    /// Why a stage could not do what it says (an action refused, sending stopped), by stage.
    pub troubles: Vec<(usize, String)>,
}

impl Demo {
    pub fn new(name: &str, scenario: Scenario) -> Demo {
        Demo {
            name: name.to_string(),
            scenario,
            stage: 0,
            started: None,
            now: None,
            done: false,
            split_pending: false,
            ask_first: false,
            troubles: Vec::new(),
        }
    }

    pub fn current(&self) -> &Stage {
        &self.scenario.stages[self.stage]
    }

    /// Time left in the current stage.
    pub fn left(&self) -> Duration {
        match (self.started, self.now) {
            (Some(start), Some(now)) => Duration::from_secs_f64(self.current().seconds)
                .saturating_sub(now.saturating_duration_since(start)),
            _ => Duration::from_secs_f64(self.current().seconds),
        }
    }
}

impl App {
    /// The clock: starts the first stage, and moves on when a stage's time is up.
    pub(crate) fn demo_tick(&mut self, now: Instant) {
        let Some(demo) = self.demo.as_mut() else {
            return;
        };
        demo.now = Some(now);
        if demo.done {
            return;
        }
        match demo.started {
            None => self.enter_stage(0, now),
            Some(_) if demo.left().is_zero() => self.next_stage(now),
            Some(_) => {}
        }
    }

    /// `n`: the next stage now; after the last, the demo ends and sending stops.
    pub(crate) fn next_stage(&mut self, now: Instant) {
        let Some(demo) = self.demo.as_mut() else {
            return;
        };
        if demo.done || demo.started.is_none() {
            return;
        }
        if demo.stage + 1 < demo.scenario.stages.len() {
            let next = demo.stage + 1;
            self.enter_stage(next, now);
        } else {
            demo.done = true;
            self.sending = false;
            let name = demo.name.clone();
            self.event(format!(
                "demo {name} done: sending paused (space sends again)"
            ));
        }
    }

    fn enter_stage(&mut self, i: usize, now: Instant) {
        let Some(demo) = self.demo.as_mut() else {
            return;
        };
        demo.stage = i;
        demo.started = Some(now);
        demo.now = Some(now);
        demo.split_pending = false;
        let stage = demo.scenario.stages[i].clone();
        let total = demo.scenario.stages.len();
        if let Err(e) = self.apply_stage(&stage) {
            self.demo_trouble(format!("stage {:?}: {e}", stage.name));
        }
        self.sending = !self.quitting;
        self.event(format!("stage {}/{total}: {}", i + 1, stage.name));
    }

    /// Sets what a stage sets; settings it leaves out stay as they are.
    pub(crate) fn apply_stage(&mut self, stage: &Stage) -> Result<(), String> {
        if let Some(key) = &stage.key {
            self.set_strategy(key)?;
        }
        if let Some(rate) = &stage.rate {
            self.shape = rate.spec().parse().map_err(|e| format!("{e}"))?;
        }
        if let Some(size) = stage.size {
            self.source = SourceChoice::Sized(size);
        }
        if let Some(template) = &stage.template {
            self.source = match TEMPLATES.iter().position(|(name, _)| name == template) {
                Some(i) => SourceChoice::Builtin(i),
                None => {
                    crate::compose::template::Template::parse(template.trim_end())
                        .map_err(|e| format!("template: {e}"))?;
                    SourceChoice::Custom {
                        name: "(scenario)".into(),
                        text: template.clone(),
                    }
                }
            };
        }
        if let Some(api) = &stage.api {
            self.apply_setting(Setting::Api, api)?;
        }
        if let Some(percent) = stage.rate_limit {
            self.apply_setting(Setting::RateLimit, &percent.to_string())?;
        }
        match stage.action()? {
            // Split once the keys of the shard it selects have been read (the next tick).
            Some(Action::SplitHottest) => {
                self.select_hottest();
                if let Some(demo) = self.demo.as_mut() {
                    demo.split_pending = true;
                }
            }
            Some(Action::Scale(count)) => {
                let ask_first = self.demo.as_ref().is_some_and(|d| d.ask_first);
                match plan(&self.stream, &self.map, &Reshard::Scale { count }) {
                    Ok(plan) if ask_first => self.confirm = Some(Confirm::Reshard(plan)),
                    Ok(plan) => {
                        self.resharding = true;
                        self.effects.push(Effect::Reshard(plan));
                    }
                    Err(e) => return Err(format!("action scale:{count}: {e}")),
                }
            }
            None => {}
        }
        Ok(())
    }

    /// The keys of the selected shard are in: a split the stage asked for goes ahead (or is
    /// asked about, on a stream other than the local server's).
    pub(crate) fn demo_sent(&mut self) {
        let Some(demo) = self.demo.as_mut() else {
            return;
        };
        if !std::mem::take(&mut demo.split_pending) {
            return;
        }
        if demo.ask_first {
            self.ask_to_reshard(true);
        } else if !self.reshard_selected_now() {
            self.demo_trouble("action split: the shard could not be split".into());
        }
    }

    /// Says why the running stage could not do what it says; a headless run fails on it.
    pub(crate) fn demo_trouble(&mut self, why: String) {
        if let Some(demo) = self.demo.as_mut().filter(|d| !d.done) {
            demo.troubles.push((demo.stage, why.clone()));
        }
        self.event(why);
    }

    /// Selects the open shard nearest its write limits.
    fn select_hottest(&mut self) {
        let hottest = self
            .map
            .open_shards()
            .enumerate()
            .max_by(|a, b| {
                let u = |id: &str| load::shown(self, id).utilisation();
                u(&a.1.shard_id).total_cmp(&u(&b.1.shard_id))
            })
            .map(|(i, _)| i);
        if let Some(i) = hottest {
            self.selected = i;
        }
    }
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let Some(demo) = &app.demo else {
        return;
    };
    let stage = demo.current();
    let total = demo.scenario.stages.len();
    let when = if demo.done {
        "done".to_string()
    } else if demo.stage + 1 < total {
        format!("next in {} s (n)", demo.left().as_secs())
    } else {
        format!("ends in {} s (n)", demo.left().as_secs())
    };
    let title = format!(
        " {}: {}/{total} {}, {when} ",
        demo.name,
        demo.stage + 1,
        stage.name
    );
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(SELECTED_COLOUR))
        .title(title);
    let mut lines = Vec::new();
    // The scenario's title where there is room for it besides the explanation.
    if block.inner(area).height >= 6 {
        lines.push(Line::styled(
            demo.scenario.title.clone(),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    lines.extend([
        // The file's line breaks are only where its lines ended: the pane wraps anew.
        Line::styled(
            stage
                .explain
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            Color::White,
        ),
    ]);
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{find, SHIPPED};
    use crate::kinesis::shard_map::ShardMap;
    use crate::tui::app::{update, Key, Msg};
    use crate::tui::view::view;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::sync::Arc;

    #[test]
    fn stages_follow_their_timer_or_n_and_the_demo_ends_paused() {
        let (name, scenario) = find("split-hot-shard").unwrap();
        let mut app = App::new("s", "t", Arc::new(ShardMap::even_split(1)));
        app.demo = Some(Demo::new(&name, scenario));
        let t0 = Instant::now();
        update(&mut app, Msg::Now(t0));
        let demo = app.demo.as_ref().unwrap();
        assert_eq!((demo.stage, app.sending), (0, true));
        assert_eq!(app.strategy_spec, "random");
        assert_eq!(app.tuning.rate_limit_percent, 150.0);
        update(&mut app, Msg::Now(t0 + Duration::from_secs(9)));
        assert_eq!(app.demo.as_ref().unwrap().stage, 0, "10 s stage");
        update(&mut app, Msg::Now(t0 + Duration::from_secs(10)));
        assert_eq!(app.demo.as_ref().unwrap().stage, 1);
        assert!(
            app.effects.is_empty(),
            "the split waits for the hot shard's keys"
        );
        update(&mut app, Msg::Sent(Default::default()));
        assert_eq!(
            app.effects.len(),
            1,
            "the split, without asking: {:?}",
            app.effects
        );
        assert!(app.resharding && app.confirm.is_none());
        update(&mut app, Msg::Key(Key::Char('n')));
        assert_eq!(app.demo.as_ref().unwrap().stage, 2);
        update(&mut app, Msg::Key(Key::Char('n')));
        let demo = app.demo.as_ref().unwrap();
        assert!(demo.done && !app.sending);
        assert!(app.events[0].0.contains("done"), "{:?}", app.events);
        // Once done, the clock changes nothing and sending is the user's again.
        update(&mut app, Msg::Key(Key::Char(' ')));
        update(&mut app, Msg::Now(t0 + Duration::from_secs(100)));
        assert!(app.sending);
    }

    #[test]
    fn elsewhere_than_the_local_server_a_stage_s_split_asks_first() {
        let (name, scenario) = find("split-hot-shard").unwrap();
        let mut app = App::new("s", "t", Arc::new(ShardMap::even_split(1)));
        let mut demo = Demo::new(&name, scenario);
        demo.ask_first = true;
        app.demo = Some(demo);
        let t0 = Instant::now();
        update(&mut app, Msg::Now(t0));
        update(&mut app, Msg::Key(Key::Char('n')));
        update(&mut app, Msg::Sent(Default::default()));
        assert!(app.effects.is_empty());
        assert!(
            matches!(app.confirm, Some(Confirm::Reshard(_))),
            "{:?}",
            app.confirm
        );
    }

    #[test]
    fn every_explanation_fits_the_pane_at_80x24() {
        for (name, _) in SHIPPED {
            let (name, scenario) = find(name).unwrap();
            let mut app = App::new("s", "t", Arc::new(ShardMap::even_split(scenario.shards)));
            app.demo = Some(Demo::new(&name, scenario.clone()));
            update(&mut app, Msg::Now(Instant::now()));
            for stage in &scenario.stages {
                let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
                terminal.draw(|frame| view(&app, frame)).unwrap();
                let screen = terminal.backend().to_string();
                let last = stage.explain.split_whitespace().last().unwrap();
                assert!(
                    screen.contains(last),
                    "{name}, stage {:?}: the explanation is cut at 80x24:\n{screen}",
                    stage.name
                );
                update(&mut app, Msg::Key(Key::Char('n')));
            }
        }
    }
}
