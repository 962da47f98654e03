//! The TUI's state and its one way of changing: `update(&mut App, Msg)`.
//!
//! Keys become messages; `update` changes the state, and the loop reads from it what the sender
//! must now do (the send plan), the producer settings and any file to load. Nothing here draws
//! or does I/O.

use crate::compose::builtin::TEMPLATES;
use crate::compose::keys::{KeyStrategy, STRATEGY_HELP};
use crate::compose::rate::RateShape;
use crate::compose::template::Template;
use crate::kinesis::hash_key::HashKey;
use crate::kinesis::reshard::{plan, Plan, Reshard};
use crate::kinesis::shard_map::{ShardInfo, ShardMap};
use crate::producer::config::{ProducerConfig, Tuning};
use crate::producer::metrics::MetricsSnapshot;
use crate::stream_metrics::StreamMetrics;
use crate::tui::keylog::SentView;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The key strategies `k` cycles through.
pub const STRATEGIES: &[&str] = &[
    "random",
    "fixed:hot-key",
    "shard-round-robin",
    "zipf:100:1.2",
    "seq",
    "field:/user_id",
];
/// Rate steps for `+` and `-`, records/s.
pub const RATES: &[f64] = &[
    10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 5000.0, 8000.0, 16000.0,
];
/// Payload sizes the composer steps through, bytes.
pub const SIZES: &[usize] = &[
    10, 100, 512, 1_000, 10_000, 50_000, 100_000, 500_000, 1_000_000,
];
const BUFFER_MS: &[u64] = &[0, 10, 50, 100, 250, 500, 1_000, 5_000];
const LIMIT_PERCENT: &[f64] = &[25.0, 50.0, 80.0, 90.0, 100.0, 110.0, 150.0, 200.0, 500.0];
const BURSTS: &[u64] = &[1, 10, 100, 1_000, 10_000, 100_000];
/// Chart windows `w` cycles through, seconds.
pub const WINDOWS: &[usize] = &[60, 120, 300];
const MAX_EVENTS: usize = 50;
const MAX_INPUT: usize = 4096;

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

/// The settings of the sending pane, in their order there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Rate,
    Aggregation,
    BufferTime,
    RateLimit,
    Burst,
}

pub const SETTINGS: [Setting; 5] = [
    Setting::Rate,
    Setting::Aggregation,
    Setting::BufferTime,
    Setting::RateLimit,
    Setting::Burst,
];

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Setting::Rate => "rate",
            Setting::Aggregation => "aggregation",
            Setting::BufferTime => "buffer time",
            Setting::RateLimit => "rate limit",
            Setting::Burst => "burst (b)",
        }
    }
}

/// What the charts plot per shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Use of the write limit, %.
    Limit,
    Records,
    Bytes,
    Throttles,
    /// p50 and p99 put latency.
    Latency,
}

const CHARTS: [ChartKind; 5] = [
    ChartKind::Limit,
    ChartKind::Records,
    ChartKind::Bytes,
    ChartKind::Throttles,
    ChartKind::Latency,
];

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

/// A question the workbench waits on before doing something that costs money or cannot be
/// undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    EnableShardMetrics,
    /// A split or merge of the stream's shards, as planned against the shard map.
    Reshard(Plan),
}

/// What is being typed into the editor line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditField {
    /// A template: inline text, or the path of a file.
    Template,
    Strategy,
    Setting(Setting),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    pub field: EditField,
    pub text: String,
    /// Why the last `enter` was refused.
    pub error: Option<String>,
}

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
    Resharded(String),
    /// The sender could not go on with the plan (a record that cannot be composed or sent).
    SendStopped(String),
    /// Ctrl-C (the key or SIGINT): a quit, whatever the screen shows (an editor, help, a
    /// question); the first waits for what is pending, the second stops now.
    Interrupt,
    /// SIGTERM or SIGHUP: stop now.
    Terminate,
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

    /// The one-line explanation of the current key strategy.
    pub fn strategy_help(&self) -> &'static str {
        let name = |spec: &str| spec.split(':').next().unwrap_or_default().to_string();
        let current = name(&self.strategy_spec);
        STRATEGY_HELP
            .iter()
            .find(|(syntax, _)| name(syntax) == current)
            .map_or("", |(_, what)| what)
    }

    /// The current value of a setting, as shown and as the editor starts from.
    pub fn setting_value(&self, setting: Setting) -> String {
        match setting {
            Setting::Rate => match self.shape {
                RateShape::Constant(r) => format!("{r}"),
                ref shape => shape.to_string(),
            },
            Setting::Aggregation => if self.tuning.aggregation { "on" } else { "off" }.into(),
            Setting::BufferTime => format!("{}ms", self.tuning.max_buffered_time.as_millis()),
            Setting::RateLimit => format!("{}%", self.tuning.rate_limit_percent),
            Setting::Burst => self.burst_size.to_string(),
        }
    }

    fn event(&mut self, text: String) {
        match self.events.iter_mut().find(|(t, _)| *t == text) {
            Some((_, n)) => *n += 1,
            None => {
                self.events.push_front((text, 1));
                self.events.truncate(MAX_EVENTS);
            }
        }
    }

    fn set_strategy(&mut self, spec: &str) -> Result<(), String> {
        self.strategy = spec.parse().map_err(|e| format!("{e}"))?;
        self.strategy_spec = spec.to_string();
        Ok(())
    }

    fn step_rate(&mut self, up: bool) {
        self.shape = match self.shape {
            RateShape::Constant(r) => RateShape::Constant(step(RATES, r, up)),
            RateShape::Max if !up => RateShape::Constant(*RATES.last().expect("rates")),
            ref shape => shape.scaled(if up { 2.0 } else { 0.5 }),
        };
    }

    fn select_shard(&mut self, forward: bool) {
        let n = self.map.open_count().max(1);
        self.selected = (self.selected + if forward { 1 } else { n - 1 }) % n;
    }

    fn step_source(&mut self, forward: bool) {
        // Sized, then each shipped template, then round again; a custom template leaves the ring
        // at the sized source.
        let ring = TEMPLATES.len() + 1;
        let position = match self.source {
            SourceChoice::Builtin(i) => i + 1,
            _ => 0,
        };
        let next = (position + if forward { 1 } else { ring - 1 }) % ring;
        self.source = match next {
            0 => SourceChoice::Sized(100),
            i => SourceChoice::Builtin(i - 1),
        };
    }

    fn step_size(&mut self, up: bool) {
        if let SourceChoice::Sized(n) = self.source {
            self.source = SourceChoice::Sized(step(SIZES, n, up));
        }
    }

    fn step_strategy(&mut self, forward: bool) {
        let n = STRATEGIES.len();
        let at = STRATEGIES.iter().position(|s| *s == self.strategy_spec);
        let next = match at {
            Some(i) => (i + if forward { 1 } else { n - 1 }) % n,
            None => 0,
        };
        self.set_strategy(STRATEGIES[next])
            .expect("built-in strategies parse");
    }

    fn step_setting(&mut self, setting: Setting, up: bool) {
        let mut tuning = self.tuning;
        match setting {
            Setting::Rate => self.step_rate(up),
            Setting::Aggregation => tuning.aggregation = !tuning.aggregation,
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

    fn open_editor(&mut self) {
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

    /// Applies what was typed, or says why not.
    fn apply_edit(&mut self, field: EditField, text: &str) -> Result<(), String> {
        let text = text.trim();
        match field {
            EditField::Template if looks_like_template(text) => {
                Template::parse(text).map_err(|e| e.to_string())?;
                self.source = SourceChoice::Custom {
                    name: "(typed)".into(),
                    text: text.to_string(),
                };
            }
            EditField::Template => {
                if text.is_empty() {
                    return Err("type a template, or the path of a template file".into());
                }
                self.effects.push(Effect::LoadTemplate(PathBuf::from(text)));
            }
            EditField::Strategy => self.set_strategy(text)?,
            EditField::Setting(setting) => self.apply_setting(setting, text)?,
        }
        Ok(())
    }

    fn apply_setting(&mut self, setting: Setting, text: &str) -> Result<(), String> {
        let mut tuning = self.tuning;
        match setting {
            Setting::Rate => self.shape = text.parse().map_err(|e| format!("{e}"))?,
            Setting::Aggregation => {
                tuning.aggregation = match text {
                    "on" | "true" | "yes" => true,
                    "off" | "false" | "no" => false,
                    _ => return Err(format!("aggregation {text:?}: use on or off")),
                }
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

    fn edit_key(&mut self, key: Key) {
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

/// Text typed into the composer is a template if it has a placeholder or looks like a document;
/// otherwise it names a file.
fn looks_like_template(text: &str) -> bool {
    text.contains("{{") || text.starts_with('{') || text.starts_with('[')
}

/// The next step up or down from `current` in `steps` (sorted), staying within them.
fn step<T: Copy + PartialOrd>(steps: &[T], current: T, up: bool) -> T {
    let next = if up {
        steps.iter().find(|s| **s > current)
    } else {
        steps.iter().rev().find(|s| **s < current)
    };
    *next.unwrap_or(&current)
}

impl App {
    /// Where the selected shard's advice would split it: by the limit it is nearer in kwb's
    /// last complete second of sending.
    pub fn advised_split_at(&self, shard_id: &str) -> Option<HashKey> {
        let (by_records, by_bytes) = self.sent.split_at;
        let bytes_bind = self
            .metrics
            .shards
            .get(shard_id)
            .is_some_and(|m| crate::tui::load::producer(m).bytes_bind());
        if bytes_bind {
            by_bytes
        } else {
            by_records
        }
    }

    /// Plans a split of the selected shard (where its advice would split it, else in the middle)
    /// or a merge with the next open shard by hash key (the one before, for the last) and asks
    /// before doing it; a change that cannot be made is said in the events.
    fn ask_to_reshard(&mut self, split: bool) {
        if self.resharding {
            self.event("a reshard is under way: one at a time".into());
            return;
        }
        let open: Vec<&ShardInfo> = self.map.open_shards().collect();
        let Some(selected) = open.get(self.selected) else {
            return;
        };
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
                return;
            };
            Reshard::Merge {
                shard: selected.shard_id.clone(),
                adjacent: neighbour.shard_id.clone(),
            }
        };
        match plan(&self.stream, &self.map, &change) {
            Ok(plan) => self.confirm = Some(Confirm::Reshard(plan)),
            Err(e) => self.event(e.to_string()),
        }
    }
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
        Msg::Metrics(snapshot) => {
            if !app.frozen {
                app.metrics = snapshot;
            }
        }
        Msg::Sent(sent) => {
            if !app.frozen {
                app.sent = sent;
            }
        }
        Msg::ShardMap(map) => {
            app.selected = app.selected.min(map.open_count().saturating_sub(1));
            app.map = map;
            app.event("shard map refreshed".into());
        }
        Msg::TemplateLoaded(path, result) => {
            let parsed = result.and_then(|text| {
                Template::parse(text.trim_end())
                    .map(|_| text)
                    .map_err(|e| e.to_string())
            });
            match parsed {
                Ok(text) => {
                    app.source = SourceChoice::Custom {
                        name: path.display().to_string(),
                        text,
                    }
                }
                Err(e) => app.event(format!("template {}: {e}", path.display())),
            }
        }
        Msg::Server(metrics) => {
            if !app.frozen {
                app.server = Some(metrics);
            }
        }
        Msg::Event(text) => app.event(text),
        Msg::Resharded(text) => {
            app.resharding = false;
            app.event(text);
        }
        Msg::SendStopped(why) => {
            app.sending = false;
            app.event(format!("sending stopped: {why}"));
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
        Msg::Key(key) if app.confirm.is_some() => {
            let confirm = app.confirm.take();
            if key == Key::Char('y') {
                app.effects.push(match confirm {
                    Some(Confirm::Reshard(plan)) => {
                        app.resharding = true;
                        Effect::Reshard(plan)
                    }
                    _ => Effect::EnableShardMetrics,
                });
            }
        }
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
        Key::Char('a') => app.step_setting(Setting::Aggregation, true),
        Key::Char('b') => app.extra += app.burst_size,
        Key::Char('o') => app.extra += 1,
        Key::Char('f') => app.frozen = !app.frozen,
        Key::Char('c') => app.chart = cycle(&CHARTS, app.chart, true),
        Key::Char('w') => app.window = cycle(WINDOWS, app.window, true),
        Key::Char('s') => app.view_source = cycle(&VIEW_SOURCES, app.view_source, true),
        Key::Char('m') => app.confirm = Some(Confirm::EnableShardMetrics),
        Key::Char('S') => app.ask_to_reshard(true),
        Key::Char('M') => app.ask_to_reshard(false),
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

/// Every key and what it does, for the help overlay.
pub const KEYS: &[(&str, &str)] = &[
    ("space", "start or pause sending"),
    ("+ / -", "raise or lower the rate"),
    ("k", "next key strategy"),
    ("t", "next record source (sized, shipped templates)"),
    ("a", "aggregation on or off"),
    ("o / b", "send one record / a burst now"),
    ("tab", "next pane: shards, composer, keys, sending"),
    ("arrows", "in the focused pane: shard, template/size,"),
    ("", "strategy, or setting (up/down) and value"),
    ("e / enter", "edit: template or file, strategy, setting"),
    ("c / w", "chart: what it plots / how far back"),
    ("s", "numbers of: kwb's producer, the stream, both"),
    ("m", "turn on CloudWatch shard metrics (asks)"),
    ("S / M", "split the selected shard where the advice"),
    ("", "says (else its middle) / merge it with the"),
    ("", "next one (each asks first)"),
    ("f", "freeze the display (sending goes on)"),
    ("mouse", "click a shard, a pane or a setting"),
    ("?", "this help"),
    ("q / esc", "quit: sends what is pending first;"),
    ("", "pressed again, quits at once"),
];

#[cfg(test)]
mod tests {
    use super::*;

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
        update(&mut a, Msg::Resharded("done: ...".into()));
        assert!(!a.resharding);
        // The last shard merges with the one before it.
        a.effects.clear();
        a.selected = 3;
        press(&mut a, 'M');
        assert!(description(&a).starts_with("merge shardId-000000000003 and shardId-000000000002"));
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
