//! The TUI's state and its one way of changing: `update(&mut App, Msg)`.
//!
//! Keys become messages; `update` routes them to the pane they belong to (each pane's file in
//! `pane` holds its types and the `App` methods that change it), and the loop reads from the
//! state what the sender must now do (the send plan), the producer settings and the effects to
//! run. Nothing here draws or does I/O.

use crate::compose::keys::KeyStrategy;
use crate::compose::rate::RateShape;
use crate::kinesis::admin::StreamFacts;
use crate::kinesis::reshard::Plan;
use crate::kinesis::shard_map::ShardMap;
use crate::producer::config::{ProducerConfig, Tuning};
use crate::producer::metrics::MetricsSnapshot;
use crate::stream_metrics::StreamMetrics;
use crate::tui::keylog::SentView;
use crate::tui::pane::chart::{ChartKind, CHARTS, WINDOWS};
use crate::tui::pane::composer::SourceChoice;
use crate::tui::pane::confirm::Confirm;
use crate::tui::pane::demo::Demo;
use crate::tui::pane::editor::Editor;
use crate::tui::pane::keys::STRATEGIES;
use crate::tui::pane::sending::{Setting, SETTINGS};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the sending task should be doing.
#[derive(Debug, Clone, PartialEq)]
pub struct SendPlan {
    pub sending: bool,
    pub shape: RateShape,
    pub strategy: KeyStrategy,
    pub source: SourceChoice,
    /// Records asked for at once (bursts and single sends) since the start, beside the rate.
    pub extra: u64,
}

/// The panes `tab` moves between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Shards,
    Composer,
    Keys,
    Sending,
}

const PANES: [Pane; 4] = [Pane::Shards, Pane::Composer, Pane::Keys, Pane::Sending];

/// Whose numbers the strip, table and chart show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewSource {
    /// kwb's own producer, 1-second resolution.
    Producer,
    /// What the stream saw from every producer: the embedded server's counts or CloudWatch.
    Server,
    /// Both: the strip and table by whichever is higher, the chart with a line for each.
    Both,
}

const VIEW_SOURCES: [ViewSource; 3] = [ViewSource::Producer, ViewSource::Server, ViewSource::Both];

/// Work for the loop that `update` cannot do itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    LoadTemplate(PathBuf),
    EnableShardMetrics,
    Reshard(Plan),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Tab,
    BackTab,
    Left,
    Right,
    Up,
    Down,
    Enter,
    Backspace,
    Esc,
}

/// A place on the screen a mouse click selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    Pane(Pane),
    /// An open shard, by its index in the map's open shards.
    Shard(usize),
    Setting(Setting),
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(Key),
    Click(Hit),
    /// New producer metrics (once per tick).
    Metrics(MetricsSnapshot),
    /// What the sender sent lately (once per tick).
    Sent(SentView),
    ShardMap(Arc<ShardMap>),
    /// A template file read for the composer: its path and text, or why it could not be read.
    TemplateLoaded(PathBuf, Result<String, String>),
    /// The stream's own metrics (embedded server or CloudWatch), newest reading.
    Server(StreamMetrics),
    /// Something worth telling the user (errors, refreshes), de-duplicated with counts.
    Event(String),
    /// A reshard ended: what came of it.
    Resharded(Result<String, String>),
    /// The sender could not go on with the plan (a record that cannot be composed or sent).
    SendStopped(String),
    /// Ctrl-C (the key or SIGINT): a quit, whatever the screen shows (an editor, help, a
    /// question); the first waits for what is pending, the second stops now.
    Interrupt,
    /// SIGTERM or SIGHUP: stop now.
    Terminate,
    /// The clock, once per tick (a demo's stages follow it).
    Now(Instant),
}

#[derive(Debug, Clone)]
pub struct App {
    pub stream: String,
    pub target: String,
    pub map: Arc<ShardMap>,
    pub metrics: MetricsSnapshot,
    pub sent: SentView,
    pub focus: Pane,
    pub source: SourceChoice,
    pub strategy: KeyStrategy,
    /// The strategy as typed (shown and edited).
    pub strategy_spec: String,
    pub shape: RateShape,
    pub tuning: Tuning,
    pub burst_size: u64,
    /// The highlighted row of the sending pane.
    pub setting: Setting,
    pub sending: bool,
    pub extra: u64,
    pub chart: ChartKind,
    pub view_source: ViewSource,
    /// The latest reading of the stream's own metrics, if the target has a source.
    pub server: Option<StreamMetrics>,
    pub confirm: Option<Confirm>,
    /// A reshard asked for is under way (one at a time).
    pub resharding: bool,
    /// Seconds of history the charts show.
    pub window: usize,
    /// The display is frozen (sending and collecting go on).
    pub frozen: bool,
    pub help: bool,
    pub editor: Option<Editor>,
    /// Index into the map's open shards.
    pub selected: usize,
    /// Newest first: (message, how many times).
    pub events: VecDeque<(String, u64)>,
    pub effects: Vec<Effect>,
    /// API calls (PutRecords or PutRecord) a second, over the last second or more.
    pub calls_per_sec: f64,
    /// Where the calls were last counted from: (producer time, calls so far).
    calls_mark: (Duration, u64),
    /// A guided scenario under way (`kwb demo NAME`).
    pub demo: Option<Demo>,
    /// The stream as the service described it (on-demand, AUTO placement).
    pub facts: StreamFacts,
    /// Sending has stopped and the workbench quits once nothing is pending.
    pub quitting: bool,
    pub quit: bool,
}

impl App {
    pub fn new(stream: &str, target: &str, map: Arc<ShardMap>) -> App {
        App {
            stream: stream.to_string(),
            target: target.to_string(),
            map,
            metrics: MetricsSnapshot::default(),
            sent: SentView::default(),
            focus: Pane::Shards,
            source: SourceChoice::Sized(100),
            strategy: KeyStrategy::Random,
            strategy_spec: STRATEGIES[0].to_string(),
            shape: RateShape::Constant(500.0),
            tuning: ProducerConfig::default().tuning(),
            burst_size: 1_000,
            setting: Setting::Rate,
            sending: false,
            extra: 0,
            chart: ChartKind::Limit,
            view_source: ViewSource::Producer,
            server: None,
            confirm: None,
            resharding: false,
            window: WINDOWS[1],
            frozen: false,
            help: false,
            editor: None,
            selected: 0,
            events: VecDeque::new(),
            effects: Vec::new(),
            calls_per_sec: 0.0,
            calls_mark: (Duration::ZERO, 0),
            demo: None,
            facts: StreamFacts::default(),
            quitting: false,
            quit: false,
        }
    }

    pub fn plan(&self) -> SendPlan {
        SendPlan {
            sending: self.sending,
            shape: self.shape.clone(),
            strategy: self.strategy.clone(),
            source: self.source.clone(),
            extra: self.extra,
        }
    }

    /// Counts the calls of each second or more of the producer's time.
    fn count_calls(&mut self, snapshot: &MetricsSnapshot) {
        let (at, calls) = self.calls_mark;
        let span = snapshot.elapsed.saturating_sub(at);
        if span >= Duration::from_secs(1) {
            self.calls_per_sec =
                snapshot.requests.saturating_sub(calls) as f64 / span.as_secs_f64();
            self.calls_mark = (snapshot.elapsed, snapshot.requests);
        }
    }

    fn select_shard(&mut self, forward: bool) {
        let n = self.map.open_count().max(1);
        self.selected = (self.selected + if forward { 1 } else { n - 1 }) % n;
    }
}

/// The next step up or down from `current` in `steps` (sorted), staying within them.
pub(crate) fn step<T: Copy + PartialOrd>(steps: &[T], current: T, up: bool) -> T {
    let next = if up {
        steps.iter().find(|s| **s > current)
    } else {
        steps.iter().rev().find(|s| **s < current)
    };
    *next.unwrap_or(&current)
}

fn cycle<T: Copy + PartialEq>(all: &[T], current: T, forward: bool) -> T {
    let i = all.iter().position(|x| *x == current).unwrap_or(0);
    all[(i + if forward { 1 } else { all.len() - 1 }) % all.len()]
}

/// Applies a message.
pub fn update(app: &mut App, msg: Msg) {
    match msg {
        Msg::Interrupt => {
            app.editor = None;
            app.confirm = None;
            app.help = false;
            on_key(app, Key::Char('q'));
        }
        Msg::Terminate => app.quit = true,
        Msg::Now(now) => app.demo_tick(now),
        Msg::Metrics(snapshot) => {
            if !app.frozen {
                app.count_calls(&snapshot);
                app.metrics = snapshot;
            }
        }
        Msg::Sent(sent) => {
            if !app.frozen {
                app.sent = sent;
                app.demo_sent();
            }
        }
        Msg::ShardMap(map) => {
            app.selected = app.selected.min(map.open_count().saturating_sub(1));
            app.map = map;
            app.event("shard map refreshed".into());
        }
        Msg::TemplateLoaded(path, result) => app.template_loaded(path, result),
        Msg::Server(metrics) => {
            if !app.frozen {
                app.server = Some(metrics);
            }
        }
        Msg::Event(text) => app.event(text),
        Msg::Resharded(done) => {
            app.resharding = false;
            match done {
                Ok(text) => app.event(text),
                Err(text) => app.demo_trouble(text),
            }
        }
        Msg::SendStopped(why) => {
            app.sending = false;
            app.demo_trouble(format!("sending stopped: {why}"));
        }
        Msg::Click(hit) => {
            app.help = false;
            match hit {
                Hit::Pane(pane) => app.focus = pane,
                Hit::Shard(i) => {
                    app.focus = Pane::Shards;
                    app.selected = i.min(app.map.open_count().saturating_sub(1));
                }
                Hit::Setting(setting) => {
                    app.focus = Pane::Sending;
                    app.setting = setting;
                }
            }
        }
        Msg::Key(key) if app.editor.is_some() => app.edit_key(key),
        Msg::Key(key) if app.confirm.is_some() => app.answer(key),
        Msg::Key(key) if app.help => {
            if matches!(key, Key::Char('?') | Key::Esc | Key::Char('q')) {
                app.help = false;
            }
        }
        Msg::Key(key) => on_key(app, key),
    }
}

fn on_key(app: &mut App, key: Key) {
    match key {
        // The first quit stops sending and waits for what is pending; the second quits now.
        Key::Char('q') | Key::Esc if app.quitting => app.quit = true,
        Key::Char('q') | Key::Esc => {
            app.quitting = true;
            app.sending = false;
        }
        Key::Char('?') => app.help = true,
        Key::Char(' ') => app.sending = !app.sending && !app.quitting,
        Key::Char('k') => app.step_strategy(true),
        Key::Char('t') => app.step_source(true),
        Key::Char('+') | Key::Char('=') => app.step_rate(true),
        Key::Char('-') => app.step_rate(false),
        Key::Char('a') => app.toggle_aggregation(),
        Key::Char('b') => app.extra += app.burst_size,
        Key::Char('o') => app.extra += 1,
        Key::Char('f') => app.frozen = !app.frozen,
        Key::Char('c') => app.chart = cycle(&CHARTS, app.chart, true),
        Key::Char('w') => app.window = cycle(WINDOWS, app.window, true),
        Key::Char('s') => app.view_source = cycle(&VIEW_SOURCES, app.view_source, true),
        Key::Char('m') => app.confirm = Some(Confirm::EnableShardMetrics),
        Key::Char('n') => {
            if let Some(now) = app.demo.as_ref().and_then(|d| d.now) {
                app.next_stage(now)
            }
        }
        Key::Char('S') => app.ask_to_reshard(true),
        Key::Char('M') => app.ask_to_reshard(false),
        Key::Char('#') => app.open_shard_count_editor(),
        Key::Char('e') | Key::Enter => app.open_editor(),
        Key::Tab => app.focus = cycle(&PANES, app.focus, true),
        Key::BackTab => app.focus = cycle(&PANES, app.focus, false),
        Key::Left | Key::Right | Key::Up | Key::Down => {
            let forward = matches!(key, Key::Right | Key::Down);
            let up = matches!(key, Key::Right | Key::Up);
            match app.focus {
                Pane::Shards => app.select_shard(forward),
                Pane::Composer if matches!(key, Key::Up | Key::Down) => app.step_size(up),
                Pane::Composer => app.step_source(forward),
                Pane::Keys => app.step_strategy(forward),
                Pane::Sending if matches!(key, Key::Up | Key::Down) => {
                    app.setting = cycle(&SETTINGS, app.setting, forward)
                }
                Pane::Sending => app.step_setting(app.setting, up),
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::builtin::TEMPLATES;
    use crate::kinesis::hash_key::HashKey;
    use crate::producer::config::Api;
    use crate::tui::pane::composer::SIZES;
    use crate::tui::pane::sending::RATES;
    use std::time::Duration;

    fn app() -> App {
        App::new("s", "t", Arc::new(ShardMap::even_split(4)))
    }

    fn press(app: &mut App, c: char) {
        update(app, Msg::Key(Key::Char(c)));
    }

    fn key(app: &mut App, key: Key) {
        update(app, Msg::Key(key));
    }

    fn type_in(app: &mut App, text: &str) {
        for c in text.chars() {
            press(app, c);
        }
        key(app, Key::Enter);
    }

    #[test]
    fn space_starts_and_pauses_sending() {
        let mut a = app();
        press(&mut a, ' ');
        assert!(a.plan().sending);
        press(&mut a, ' ');
        assert!(!a.plan().sending);
    }

    #[test]
    fn plus_and_minus_step_the_rate_within_bounds() {
        let mut a = app();
        press(&mut a, '+');
        assert_eq!(a.plan().shape, RateShape::Constant(1000.0));
        for _ in 0..20 {
            press(&mut a, '+');
        }
        assert_eq!(a.shape, RateShape::Constant(*RATES.last().unwrap()));
        for _ in 0..20 {
            press(&mut a, '-');
        }
        assert_eq!(a.shape, RateShape::Constant(RATES[0]));
    }

    #[test]
    fn plus_and_minus_scale_a_shaped_rate() {
        let mut a = app();
        a.shape = "burst:800:2:3".parse().unwrap();
        press(&mut a, '-');
        assert_eq!(a.shape, "burst:400:2:3".parse().unwrap());
        a.shape = RateShape::Max;
        press(&mut a, '-');
        assert_eq!(a.shape, RateShape::Constant(16000.0));
    }

    #[test]
    fn k_cycles_the_key_strategies_and_explains_each() {
        let mut a = app();
        let mut seen = Vec::new();
        for _ in 0..STRATEGIES.len() {
            press(&mut a, 'k');
            assert!(!a.strategy_help().is_empty(), "{}", a.strategy_spec);
            seen.push(a.plan().strategy);
        }
        assert_eq!(seen.last(), Some(&KeyStrategy::Random));
        assert!(seen.contains(&KeyStrategy::Fixed("hot-key".into())));
        assert!(a.strategy_help().starts_with("a new UUID"));
    }

    #[test]
    fn t_and_the_composer_arrows_choose_the_source_and_size() {
        let mut a = app();
        press(&mut a, 't');
        assert_eq!(a.plan().source, SourceChoice::Builtin(0));
        a.focus = Pane::Composer;
        key(&mut a, Key::Left);
        key(&mut a, Key::Left);
        assert_eq!(a.source, SourceChoice::Builtin(TEMPLATES.len() - 1));
        key(&mut a, Key::Right);
        assert_eq!(a.source, SourceChoice::Sized(100));
        key(&mut a, Key::Up);
        assert_eq!(a.source, SourceChoice::Sized(512));
        for _ in 0..20 {
            key(&mut a, Key::Down);
        }
        assert_eq!(a.source, SourceChoice::Sized(SIZES[0]));
    }

    #[test]
    fn a_toggles_aggregation() {
        let mut a = app();
        assert!(a.tuning.aggregation);
        press(&mut a, 'a');
        assert!(!a.tuning.aggregation);
        press(&mut a, 'a');
        assert!(a.tuning.aggregation);
    }

    #[test]
    fn the_api_setting_steps_through_the_three_ways_to_produce() {
        let mut a = app();
        a.focus = Pane::Sending;
        key(&mut a, Key::Down);
        assert_eq!(a.setting, Setting::Api);
        let mut seen = vec![a.setting_value(Setting::Api)];
        for _ in 0..3 {
            key(&mut a, Key::Right);
            seen.push(a.setting_value(Setting::Api));
        }
        assert_eq!(
            seen,
            ["aggregated", "PutRecords", "PutRecord", "aggregated"]
        );
        key(&mut a, Key::Left);
        assert_eq!(
            (a.tuning.api, a.tuning.aggregation),
            (Api::PutRecord, false)
        );
        assert!(ProducerConfig::default().tuned(a.tuning).is_ok());
        // From PutRecord, `a` turns aggregation on (PutRecords again).
        press(&mut a, 'a');
        assert_eq!(
            (a.tuning.api, a.tuning.aggregation),
            (Api::PutRecords, true)
        );
        key(&mut a, Key::Enter);
        a.editor.as_mut().unwrap().text.clear();
        type_in(&mut a, "put-record");
        assert_eq!(a.tuning.api, Api::PutRecord);
        key(&mut a, Key::Enter);
        a.editor.as_mut().unwrap().text.clear();
        type_in(&mut a, "sometimes");
        let error = a.editor.as_ref().unwrap().error.clone().unwrap();
        assert!(
            error.contains("aggregated, put-records or put-record"),
            "{error}"
        );
    }

    #[test]
    fn o_sends_one_and_b_a_burst_of_the_burst_size() {
        let mut a = app();
        press(&mut a, 'o');
        assert_eq!(a.plan().extra, 1);
        press(&mut a, 'b');
        assert_eq!(a.plan().extra, 1_001);
    }

    #[test]
    fn f_freezes_the_display() {
        let mut a = app();
        press(&mut a, 'f');
        let mut frozen = MetricsSnapshot::default();
        frozen.failed_by_reason.insert("x".into(), 1);
        update(&mut a, Msg::Metrics(frozen.clone()));
        update(
            &mut a,
            Msg::Sent(SentView {
                recent: vec![1],
                ..SentView::default()
            }),
        );
        assert!(
            a.metrics.failed_by_reason.is_empty() && a.sent.recent.is_empty(),
            "frozen display keeps its snapshot"
        );
        press(&mut a, 'f');
        update(&mut a, Msg::Metrics(frozen));
        assert_eq!(a.metrics.failed_by_reason.len(), 1);
    }

    #[test]
    fn c_and_w_cycle_the_chart_and_its_window() {
        let mut a = app();
        let kinds: Vec<ChartKind> = (0..CHARTS.len())
            .map(|_| {
                press(&mut a, 'c');
                a.chart
            })
            .collect();
        assert_eq!(kinds.last(), Some(&ChartKind::Limit));
        assert!(kinds.contains(&ChartKind::Latency));
        let windows: Vec<usize> = (0..WINDOWS.len())
            .map(|_| {
                press(&mut a, 'w');
                a.window
            })
            .collect();
        assert_eq!(windows, vec![300, 60, 120]);
    }

    #[test]
    fn s_cycles_whose_numbers_are_shown() {
        let mut a = app();
        let seen: Vec<ViewSource> = (0..3)
            .map(|_| {
                press(&mut a, 's');
                a.view_source
            })
            .collect();
        assert_eq!(
            seen,
            vec![ViewSource::Server, ViewSource::Both, ViewSource::Producer]
        );
    }

    #[test]
    fn m_asks_before_turning_on_shard_metrics() {
        let mut a = app();
        press(&mut a, 'm');
        assert_eq!(a.confirm, Some(Confirm::EnableShardMetrics));
        press(&mut a, 'n');
        assert!(
            a.confirm.is_none() && a.effects.is_empty(),
            "anything but y declines"
        );
        press(&mut a, 'm');
        press(&mut a, 'y');
        assert_eq!(a.effects, vec![Effect::EnableShardMetrics]);
    }

    #[test]
    fn split_and_merge_ask_first_and_take_the_advice_s_split_point() {
        let mut a = app();
        let description = |a: &App| match &a.confirm {
            Some(Confirm::Reshard(plan)) => plan.description.clone(),
            other => panic!("{other:?}"),
        };
        // No advice yet: the middle of the selected shard (the first of four).
        press(&mut a, 'S');
        let middle = (u128::MAX / 4) / 2 + 1;
        assert!(description(&a).contains(&format!(
            "split shardId-000000000000 of s at hash key {middle}:"
        )));
        press(&mut a, 'n');
        assert!(a.confirm.is_none() && a.effects.is_empty());
        // Where the advice would split it, by records when records bind.
        a.sent.split_at = (Some(HashKey(12345)), Some(HashKey(67890)));
        press(&mut a, 'S');
        let asked = a.confirm.clone();
        assert!(description(&a).contains("at hash key 12345:"));
        press(&mut a, 'y');
        let Some(Confirm::Reshard(plan)) = asked else {
            unreachable!()
        };
        assert_eq!(a.effects, vec![Effect::Reshard(plan)]);
        // One at a time: until it ends, another is refused in the events.
        assert!(a.resharding);
        press(&mut a, 'S');
        assert!(a.confirm.is_none());
        assert!(a.events[0].0.contains("one at a time"), "{:?}", a.events);
        update(&mut a, Msg::Resharded(Ok("done: ...".into())));
        assert!(!a.resharding);
        // The last shard merges with the one before it.
        a.effects.clear();
        a.selected = 3;
        press(&mut a, 'M');
        assert!(description(&a).starts_with("merge shardId-000000000003 and shardId-000000000002"));
    }

    #[test]
    fn calls_are_counted_a_second_at_a_time() {
        let mut a = app();
        let at = |secs: f64, requests: u64| MetricsSnapshot {
            elapsed: Duration::from_secs_f64(secs),
            requests,
            ..MetricsSnapshot::default()
        };
        update(&mut a, Msg::Metrics(at(1.0, 40)));
        assert_eq!(a.calls_per_sec, 40.0);
        update(&mut a, Msg::Metrics(at(1.5, 900)));
        assert_eq!(a.calls_per_sec, 40.0, "half a second is not counted yet");
        update(&mut a, Msg::Metrics(at(3.0, 1040)));
        assert_eq!(a.calls_per_sec, 500.0);
    }

    #[test]
    fn hash_sets_the_shard_count_after_asking() {
        let mut a = app();
        press(&mut a, '#');
        assert_eq!(a.editor.as_ref().unwrap().text, "4");
        key(&mut a, Key::Backspace);
        type_in(&mut a, "100");
        let error = a.editor.as_ref().unwrap().error.clone().unwrap();
        assert!(error.contains("100"), "{error}");
        for _ in 0..3 {
            key(&mut a, Key::Backspace);
        }
        type_in(&mut a, "8");
        assert!(a.editor.is_none());
        let Some(Confirm::Reshard(plan)) = a.confirm.clone() else {
            panic!("no question: {:?}", a.confirm);
        };
        assert!(plan.description.contains('8'), "{}", plan.description);
        press(&mut a, 'y');
        assert!(matches!(a.effects.as_slice(), [Effect::Reshard(_)]));
        assert!(a.resharding);
        press(&mut a, '#');
        type_in(&mut a, "");
        let error = a.editor.as_ref().unwrap().error.clone().unwrap();
        assert!(error.contains("one at a time"), "{error}");
    }

    #[test]
    fn an_on_demand_stream_is_not_resharded_from_the_keyboard() {
        let mut a = app();
        a.facts.on_demand = true;
        press(&mut a, 'S');
        assert!(a.confirm.is_none());
        assert!(a.events[0].0.contains("is on-demand"), "{:?}", a.events);
        press(&mut a, 'M');
        assert!(a.confirm.is_none());
        press(&mut a, '#');
        type_in(&mut a, "");
        let error = a.editor.as_ref().unwrap().error.clone().unwrap();
        assert!(error.contains("is on-demand"), "{error}");
    }

    #[test]
    fn a_change_that_cannot_be_made_is_said_not_asked() {
        let mut a = App::new("s", "t", Arc::new(ShardMap::even_split(1)));
        press(&mut a, 'M');
        assert!(a.confirm.is_none());
        assert!(a.events[0].0.contains("nothing to merge"), "{:?}", a.events);
    }

    #[test]
    fn tab_moves_between_panes_and_arrows_between_shards() {
        let mut a = app();
        key(&mut a, Key::Left);
        assert_eq!(a.selected, 3);
        key(&mut a, Key::Down);
        key(&mut a, Key::Right);
        assert_eq!(a.selected, 1);
        key(&mut a, Key::Up);
        assert_eq!(a.selected, 0);
        key(&mut a, Key::Tab);
        assert_eq!(a.focus, Pane::Composer);
        key(&mut a, Key::BackTab);
        key(&mut a, Key::BackTab);
        assert_eq!(a.focus, Pane::Sending);
    }

    #[test]
    fn the_sending_pane_steps_and_edits_producer_settings() {
        let mut a = app();
        a.focus = Pane::Sending;
        key(&mut a, Key::Down);
        key(&mut a, Key::Down);
        assert_eq!(a.setting, Setting::BufferTime);
        key(&mut a, Key::Right);
        assert_eq!(a.tuning.max_buffered_time, Duration::from_millis(250));
        key(&mut a, Key::Down);
        key(&mut a, Key::Left);
        assert_eq!(a.tuning.rate_limit_percent, 90.0);
        key(&mut a, Key::Enter);
        assert_eq!(a.editor.as_ref().unwrap().text, "90%");
        for _ in 0..3 {
            key(&mut a, Key::Backspace);
        }
        type_in(&mut a, "0");
        let error = a.editor.as_ref().unwrap().error.clone().unwrap();
        assert!(error.contains("rate_limit_percent"), "{error}");
        key(&mut a, Key::Backspace);
        type_in(&mut a, "75");
        assert!(a.editor.is_none());
        assert_eq!(a.tuning.rate_limit_percent, 75.0);
        a.setting = Setting::Rate;
        key(&mut a, Key::Char('e'));
        a.editor.as_mut().unwrap().text.clear();
        type_in(&mut a, "sine:100:900:60");
        assert_eq!(a.plan().shape, "sine:100:900:60".parse().unwrap());
    }

    #[test]
    fn editing_the_strategy_takes_parameters_and_refuses_bad_ones() {
        let mut a = app();
        a.focus = Pane::Keys;
        key(&mut a, Key::Enter);
        a.editor.as_mut().unwrap().text.clear();
        type_in(&mut a, "zipf:10:0");
        let error = a.editor.as_ref().unwrap().error.clone().unwrap();
        assert!(error.contains("skew"), "{error}");
        assert_eq!(a.strategy, KeyStrategy::Random, "nothing changes on error");
        a.editor.as_mut().unwrap().text = "zipf:10:2".into();
        key(&mut a, Key::Enter);
        assert_eq!(
            a.plan().strategy,
            KeyStrategy::Zipf {
                keys: 10,
                exponent: 2.0
            }
        );
        assert!(a.strategy_help().contains("Zipf"));
        key(&mut a, Key::Enter);
        key(&mut a, Key::Esc);
        assert!(
            a.editor.is_none() && !a.quitting,
            "esc closes the editor only"
        );
    }

    #[test]
    fn the_composer_takes_a_typed_template_or_asks_for_a_file() {
        let mut a = app();
        a.focus = Pane::Composer;
        key(&mut a, Key::Enter);
        type_in(&mut a, r#"{"n":{{seq}}"#);
        assert_eq!(a.source.template(), Some(r#"{"n":{{seq}}"#));
        key(&mut a, Key::Enter);
        a.editor.as_mut().unwrap().text = "{{nope}}".into();
        key(&mut a, Key::Enter);
        assert!(a.editor.as_ref().unwrap().error.is_some());
        a.editor.as_mut().unwrap().text = "/tmp/t.json".into();
        key(&mut a, Key::Enter);
        assert_eq!(
            a.effects,
            vec![Effect::LoadTemplate(PathBuf::from("/tmp/t.json"))]
        );
        let path = PathBuf::from("/tmp/t.json");
        update(
            &mut a,
            Msg::TemplateLoaded(path.clone(), Ok("{{seq}}\n".into())),
        );
        assert_eq!(a.source.label(), "template /tmp/t.json");
        update(
            &mut a,
            Msg::TemplateLoaded(path, Err("no such file".into())),
        );
        assert!(a.events[0].0.contains("no such file"));
    }

    #[test]
    fn a_stopped_sender_pauses_sending_and_says_why() {
        let mut a = app();
        press(&mut a, ' ');
        update(
            &mut a,
            Msg::SendStopped("the record has no field at /user_id".into()),
        );
        assert!(!a.sending);
        assert_eq!(
            a.events[0].0,
            "sending stopped: the record has no field at /user_id"
        );
    }

    #[test]
    fn clicks_select_shards_panes_and_settings() {
        let mut a = app();
        a.help = true;
        update(&mut a, Msg::Click(Hit::Shard(2)));
        assert_eq!((a.selected, a.focus, a.help), (2, Pane::Shards, false));
        update(&mut a, Msg::Click(Hit::Setting(Setting::Burst)));
        assert_eq!((a.focus, a.setting), (Pane::Sending, Setting::Burst));
        update(&mut a, Msg::Click(Hit::Pane(Pane::Keys)));
        assert_eq!(a.focus, Pane::Keys);
    }

    #[test]
    fn help_opens_and_swallows_keys_until_closed() {
        let mut a = app();
        press(&mut a, '?');
        assert!(a.help);
        press(&mut a, ' ');
        assert!(
            !a.sending,
            "keys other than closing ones are ignored under help"
        );
        press(&mut a, 'q');
        assert!(!a.help && !a.quitting);
    }

    #[test]
    fn q_stops_sending_to_flush_and_q_again_quits_at_once() {
        let mut a = app();
        press(&mut a, ' ');
        press(&mut a, 'q');
        assert!(a.quitting && !a.quit && !a.plan().sending);
        press(&mut a, ' ');
        assert!(!a.plan().sending, "no sending while quitting");
        update(&mut a, Msg::Key(Key::Esc));
        assert!(a.quit);
    }

    #[test]
    fn events_are_deduplicated_with_counts_newest_first() {
        let mut a = app();
        update(
            &mut a,
            Msg::Event("throttled on shardId-000000000001".into()),
        );
        update(&mut a, Msg::Event("retrying".into()));
        update(
            &mut a,
            Msg::Event("throttled on shardId-000000000001".into()),
        );
        assert_eq!(a.events[0], ("retrying".to_string(), 1));
        assert_eq!(a.events[1].1, 2);
    }
}
