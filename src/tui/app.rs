//! The TUI's state and its one way of changing: `update(&mut App, Msg)`.
//!
//! Keys become messages; `update` changes the state and says what the sender must now do
//! (the send plan). Nothing here draws or does I/O.

use crate::compose::keys::KeyStrategy;
use crate::kinesis::shard_map::ShardMap;
use crate::producer::metrics::MetricsSnapshot;
use std::collections::VecDeque;
use std::sync::Arc;

/// The key strategies `k` cycles through.
pub const STRATEGIES: &[&str] = &[
    "random",
    "fixed:hot-key",
    "shard-round-robin",
    "zipf:100:1.2",
    "seq",
];
/// Rate steps for `+` and `-`, records/s.
pub const RATES: &[f64] = &[
    10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0,
];
const MAX_EVENTS: usize = 50;

/// What the sending task should be doing.
#[derive(Debug, Clone, PartialEq)]
pub struct SendPlan {
    pub sending: bool,
    pub rate: f64,
    pub strategy: KeyStrategy,
    /// Records still to send at once (from `b`), beside the steady rate.
    pub burst: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Tab,
    BackTab,
    Left,
    Right,
    Esc,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(Key),
    /// New producer metrics (once per frame).
    Metrics(MetricsSnapshot),
    ShardMap(Arc<ShardMap>),
    /// Something worth telling the user (errors, refreshes), de-duplicated with counts.
    Event(String),
}

#[derive(Debug, Clone)]
pub struct App {
    pub stream: String,
    pub target: String,
    pub map: Arc<ShardMap>,
    pub metrics: MetricsSnapshot,
    pub strategy_index: usize,
    pub rate_index: usize,
    pub sending: bool,
    pub burst: u64,
    /// The display is frozen (sending and collecting go on).
    pub frozen: bool,
    pub help: bool,
    /// Index into the map's open shards.
    pub selected: usize,
    /// Newest first: (message, how many times).
    pub events: VecDeque<(String, u64)>,
    pub quit: bool,
}

impl App {
    pub fn new(stream: &str, target: &str, map: Arc<ShardMap>) -> App {
        App {
            stream: stream.to_string(),
            target: target.to_string(),
            map,
            metrics: MetricsSnapshot::default(),
            strategy_index: 0,
            rate_index: 4,
            sending: false,
            burst: 0,
            frozen: false,
            help: false,
            selected: 0,
            events: VecDeque::new(),
            quit: false,
        }
    }

    pub fn strategy(&self) -> KeyStrategy {
        STRATEGIES[self.strategy_index]
            .parse()
            .expect("built-in strategies parse")
    }

    pub fn rate(&self) -> f64 {
        RATES[self.rate_index]
    }

    pub fn plan(&self) -> SendPlan {
        SendPlan {
            sending: self.sending,
            rate: self.rate(),
            strategy: self.strategy(),
            burst: self.burst,
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
}

/// Applies a message.
pub fn update(app: &mut App, msg: Msg) {
    match msg {
        Msg::Metrics(snapshot) => {
            if !app.frozen {
                app.metrics = snapshot;
            }
        }
        Msg::ShardMap(map) => {
            app.selected = app.selected.min(map.open_count().saturating_sub(1));
            app.map = map;
            app.event("shard map refreshed".into());
        }
        Msg::Event(text) => app.event(text),
        Msg::Key(key) if app.help => {
            if matches!(key, Key::Char('?') | Key::Esc | Key::Char('q')) {
                app.help = false;
            }
        }
        Msg::Key(key) => match key {
            Key::Char('q') | Key::Esc => app.quit = true,
            Key::Char('?') => app.help = true,
            Key::Char(' ') => app.sending = !app.sending,
            Key::Char('k') => app.strategy_index = (app.strategy_index + 1) % STRATEGIES.len(),
            Key::Char('+') | Key::Char('=') => {
                app.rate_index = (app.rate_index + 1).min(RATES.len() - 1)
            }
            Key::Char('-') => app.rate_index = app.rate_index.saturating_sub(1),
            Key::Char('b') => app.burst += 1000,
            Key::Char('f') => app.frozen = !app.frozen,
            Key::Tab | Key::Right => {
                app.selected = (app.selected + 1) % app.map.open_count().max(1);
            }
            Key::BackTab | Key::Left => {
                let n = app.map.open_count().max(1);
                app.selected = (app.selected + n - 1) % n;
            }
            _ => {}
        },
    }
}

/// Every key and what it does, for the help overlay.
pub const KEYS: &[(&str, &str)] = &[
    ("space", "start or pause sending"),
    ("+ / -", "raise or lower the rate"),
    ("k", "next key strategy"),
    ("b", "send a burst of 1,000 records now"),
    ("tab / arrows", "select the next or previous shard"),
    ("f", "freeze the display (sending goes on)"),
    ("?", "this help"),
    ("q / esc", "quit (flushes what was sent)"),
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
        let start = a.rate();
        press(&mut a, '+');
        assert!(a.rate() > start);
        for _ in 0..20 {
            press(&mut a, '+');
        }
        assert_eq!(a.rate(), *RATES.last().unwrap());
        for _ in 0..20 {
            press(&mut a, '-');
        }
        assert_eq!(a.rate(), RATES[0]);
    }

    #[test]
    fn k_cycles_the_key_strategies() {
        let mut a = app();
        let seen: Vec<KeyStrategy> = (0..STRATEGIES.len())
            .map(|_| {
                press(&mut a, 'k');
                a.strategy()
            })
            .collect();
        assert_eq!(seen.last(), Some(&KeyStrategy::Random));
        assert!(seen.contains(&KeyStrategy::Fixed("hot-key".into())));
    }

    #[test]
    fn b_queues_a_burst_and_f_freezes_the_display() {
        let mut a = app();
        press(&mut a, 'b');
        assert_eq!(a.plan().burst, 1000);
        press(&mut a, 'f');
        let mut frozen = MetricsSnapshot::default();
        frozen.failed_by_reason.insert("x".into(), 1);
        update(&mut a, Msg::Metrics(frozen.clone()));
        assert!(
            a.metrics.failed_by_reason.is_empty(),
            "frozen display keeps its snapshot"
        );
        press(&mut a, 'f');
        update(&mut a, Msg::Metrics(frozen));
        assert_eq!(a.metrics.failed_by_reason.len(), 1);
    }

    #[test]
    fn tab_and_arrows_move_between_shards_and_wrap() {
        let mut a = app();
        update(&mut a, Msg::Key(Key::BackTab));
        assert_eq!(a.selected, 3);
        update(&mut a, Msg::Key(Key::Tab));
        update(&mut a, Msg::Key(Key::Right));
        assert_eq!(a.selected, 1);
        update(&mut a, Msg::Key(Key::Left));
        assert_eq!(a.selected, 0);
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
        assert!(!a.help && !a.quit);
        press(&mut a, 'q');
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
