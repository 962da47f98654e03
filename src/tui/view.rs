//! The layout: `view(&App, &mut Frame)` places the panes (each drawn by its file in `pane`), and
//! `hit` finds what the mouse points at. Where each pane is comes from one place (`Regions`) so
//! that drawing and mouse hits agree; the drawing helpers the panes share are here too. Nothing
//! here changes the state.

use crate::producer::metrics::ShardSnapshot;
use crate::tui::app::{App, Hit, Pane};
use crate::tui::load;
use crate::tui::pane::sending::SETTINGS;
use crate::tui::pane::{
    chart, composer, confirm, demo, editor, events, help, keys, sending, status, strip, table,
};
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders};
use ratatui::Frame;

/// From this width the charts sit beside the shard table.
const CHART_MIN_WIDTH: u16 = 110;
pub const SELECTED_COLOUR: Color = Color::Cyan;

/// The value of the last complete second of a series (the last entry is the current second).
pub fn last_second(series: &[u64]) -> u64 {
    series.len().checked_sub(2).map_or(0, |i| series[i])
}

/// The share of its write limit a shard used in the last complete second, by kwb's producer.
pub fn utilisation(shard: &ShardSnapshot) -> f64 {
    load::producer(shard).utilisation()
}

/// A shard's id in the table and legends, starred when other producers write to it too.
pub fn marked(app: &App, shard_id: &str, text: String) -> String {
    if load::other_producers(app, shard_id).is_some() {
        format!("{text}*")
    } else {
        text
    }
}

pub fn heat(utilisation: f64) -> Color {
    match utilisation {
        u if u >= 0.95 => Color::Red,
        u if u >= 0.7 => Color::Yellow,
        u if u > 0.0 => Color::Green,
        _ => Color::DarkGray,
    }
}

/// Where each pane is on a screen of a given size.
struct Regions {
    status: Rect,
    strip: Rect,
    composer: Rect,
    keys: Rect,
    sending: Rect,
    table: Rect,
    chart: Option<Rect>,
    events: Rect,
    demo: Option<Rect>,
}

impl Regions {
    fn of(area: Rect, demo: bool) -> Regions {
        let tall = area.height >= 30;
        let [status, strip, controls, middle, events] = Layout::vertical([
            Constraint::Length(2),
            // Tall: the selected shard's rates and keys, its advice, and one more line.
            Constraint::Length(if tall { 7 } else { 5 }),
            Constraint::Length(if tall { 8 } else { 7 }),
            Constraint::Min(5),
            Constraint::Length(if tall { 6 } else { 4 }),
        ])
        .areas(area);
        let [composer, keys, sending] = Layout::horizontal([
            Constraint::Ratio(2, 5),
            Constraint::Ratio(3, 10),
            Constraint::Ratio(3, 10),
        ])
        .areas(controls);
        // A demo's explanation takes the composer's and the key strategy's place (the status
        // bar still names the strategy).
        let demo = demo.then(|| composer.union(keys));
        let (table, chart) = if middle.width >= CHART_MIN_WIDTH {
            let [table, chart] =
                Layout::horizontal([Constraint::Length(72), Constraint::Min(38)]).areas(middle);
            (table, Some(chart))
        } else {
            (middle, None)
        };
        Regions {
            status,
            strip,
            composer,
            keys,
            sending,
            table,
            chart,
            events,
            demo,
        }
    }
}

pub fn view(app: &App, frame: &mut Frame) {
    let r = Regions::of(frame.area(), app.demo.is_some());
    status::draw(app, frame, r.status);
    strip::draw(app, frame, r.strip);
    match r.demo {
        Some(area) => demo::draw(app, frame, area),
        None => {
            composer::draw(app, frame, r.composer);
            keys::draw(app, frame, r.keys);
        }
    }
    sending::draw(app, frame, r.sending);
    table::draw(app, frame, r.table);
    if let Some(area) = r.chart {
        chart::draw(app, frame, area);
    }
    events::draw(app, frame, r.events);
    if app.editor.is_some() {
        editor::draw(app, frame, r.events);
    }
    if app.help {
        help::draw(frame);
    }
    if app.confirm.is_some() {
        confirm::draw(app, frame);
    }
}

/// What a mouse click at `(x, y)` on a screen of `area` points at.
pub fn hit(app: &App, area: Rect, x: u16, y: u16) -> Option<Hit> {
    let r = Regions::of(area, app.demo.is_some());
    let at = Position::new(x, y);
    let inner = |rect: Rect| Block::new().borders(Borders::ALL).inner(rect);
    if inner(r.strip).contains(at) && y == inner(r.strip).y {
        let strip = inner(r.strip);
        let segments = strip::segments(app, strip.width);
        let offset = x - strip.x;
        return segments
            .iter()
            .position(|(start, end)| (*start..*end).contains(&offset))
            .map(Hit::Shard);
    }
    let table = inner(r.table);
    if table.contains(at) {
        // The first line inside the border is the header.
        let row = (y - table.y).checked_sub(1)? as usize;
        return table::rows(app, table::room(r.table))
            .get(row)
            .map(|(i, _, _)| Hit::Shard(*i));
    }
    if inner(r.sending).contains(at) {
        return SETTINGS
            .get((y - inner(r.sending).y) as usize)
            .map(|s| Hit::Setting(*s));
    }
    if r.demo.is_some_and(|demo| demo.contains(at)) {
        return None;
    }
    [
        (r.composer, Pane::Composer),
        (r.keys, Pane::Keys),
        (r.sending, Pane::Sending),
        (r.table, Pane::Shards),
        (r.strip, Pane::Shards),
    ]
    .into_iter()
    .find(|(rect, _)| rect.contains(at))
    .map(|(_, pane)| Hit::Pane(pane))
}

/// A pane's frame, highlighted when it has the focus.
pub fn pane_block(app: &App, pane: Option<Pane>, title: String) -> Block<'static> {
    let focused = pane.is_some_and(|p| p == app.focus);
    let style = if focused {
        Style::new()
            .fg(SELECTED_COLOUR)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    Block::new()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(title, style))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hot_keys::KeyShare;
    use crate::kinesis::hash_key::HashKey;
    use crate::kinesis::shard_map::ShardMap;
    use crate::producer::metrics::MetricsSnapshot;
    use crate::stream_metrics::{Series, ShardSeries as StreamShard};
    use crate::tui::app::{update, Key, Msg};
    use crate::tui::keylog::{Preview, SentView};
    use crate::tui::pane::sending::Setting;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::sync::Arc;
    use std::time::Duration;

    /// A shard that delivered `records` user records (in `kinesis` Kinesis records) and `bytes`
    /// in each of the last 60 complete seconds, `throttled` of them throttled in the last one.
    fn shard(records: u64, kinesis: u64, bytes: u64, throttled: u64) -> ShardSnapshot {
        let series = |v: u64| {
            let mut s: Vec<u64> = (0..60).map(|i| v * (i + 40) / 100).collect();
            s.push(0);
            s
        };
        let mut throttled_per_sec = vec![0; 61];
        throttled_per_sec[59] = throttled;
        ShardSnapshot {
            user_records: records * 10,
            kinesis_records: kinesis * 10,
            bytes: bytes * 10,
            throttled,
            latency_p99: Duration::from_millis(120),
            records_per_sec: series(records),
            kinesis_records_per_sec: series(kinesis),
            bytes_per_sec: series(bytes),
            throttled_per_sec,
            latency_p50_us_per_sec: series(20_000),
            latency_p99_us_per_sec: series(120_000),
            ..ShardSnapshot::default()
        }
    }

    fn app(metrics: &[(usize, ShardSnapshot)]) -> App {
        let map = Arc::new(ShardMap::even_split(4));
        let mut app = App::new(
            "kwb-demo",
            "embedded ferrokinesis at http://127.0.0.1:4567",
            map.clone(),
        );
        let mut snapshot = MetricsSnapshot::default();
        for (i, s) in metrics {
            snapshot
                .shards
                .insert(map.shards()[*i].shard_id.clone(), s.clone());
        }
        update(&mut app, Msg::Metrics(snapshot));
        update(
            &mut app,
            Msg::Sent(SentView {
                recent: (0..8u128).map(|i| i * (u128::MAX / 8) + 12345).collect(),
                top_keys: vec![key_share("user-17", 412, 509), key_share("user-3", 97, 509)],
                split_at: (Some(HashKey(u128::MAX / 3)), None),
                next: Some(Preview {
                    partition_key: "9b2f6c1e".into(),
                    text: r#"{"event_id":"4f1c","user_id":"u-1834","event":"page_view"}"#.into(),
                    bytes: 66,
                }),
            }),
        );
        app
    }

    fn key_share(key: &str, records: u64, of: u64) -> KeyShare {
        KeyShare {
            key: key.into(),
            records,
            bytes: records * 100,
            share: records as f64 / of as f64,
            bytes_share: records as f64 / of as f64,
            error: 0,
        }
    }

    fn draw(app: &App, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| view(app, frame)).unwrap();
        terminal.backend().to_string()
    }

    fn press(app: &mut App, key: Key) {
        update(app, Msg::Key(key));
    }

    #[test]
    fn screens_at_both_sizes() {
        let idle = App::new(
            "kwb-demo",
            "embedded ferrokinesis at http://127.0.0.1:4567",
            Arc::new(ShardMap::even_split(4)),
        );
        let mut random = app(&[
            (0, shard(250, 10, 30_000, 0)),
            (1, shard(240, 10, 29_000, 0)),
            (2, shard(260, 11, 31_000, 0)),
            (3, shard(250, 10, 30_000, 0)),
        ]);
        press(&mut random, Key::Char(' '));
        let mut hot = app(&[(2, shard(9000, 20, 1_040_000, 0))]);
        press(&mut hot, Key::Char(' '));
        press(&mut hot, Key::Char('k'));
        press(&mut hot, Key::Right);
        press(&mut hot, Key::Right);
        let mut throttled = app(&[
            (1, shard(1000, 1000, 600_000, 140)),
            (2, shard(400, 400, 50_000, 0)),
        ]);
        press(&mut throttled, Key::Char(' '));
        press(&mut throttled, Key::Char('a'));
        press(&mut throttled, Key::Right);
        update(
            &mut throttled,
            Msg::Event("throttled on shardId-000000000001; the limiter slows it down".into()),
        );
        update(
            &mut throttled,
            Msg::Event("throttled on shardId-000000000001; the limiter slows it down".into()),
        );
        let mut error = app(&[(0, shard(10, 10, 1_000, 0))]);
        update(
            &mut error,
            Msg::Event("120 records failed: Expired (dispatch failure: connection refused)".into()),
        );
        let mut help = app(&[]);
        press(&mut help, Key::Char('?'));
        // The stream saw 900 records/s on shard 1, of which kwb sent 250: other producers.
        let mut others = app(&[
            (0, shard(250, 250, 30_000, 0)),
            (1, shard(250, 250, 30_000, 0)),
        ]);
        let mut stream = crate::stream_metrics::StreamMetrics {
            stream: "kwb-demo".into(),
            source: crate::stream_metrics::Source::Server,
            period: Duration::from_secs(1),
            shards: Default::default(),
            stream_level: Default::default(),
        };
        for (i, records) in [(0, 250.0), (1, 900.0), (2, 0.0), (3, 0.0)] {
            let series: Series = (0..61)
                .map(|t| Some(if t < 60 { records } else { 0.0 }))
                .collect();
            stream.shards.insert(
                format!("shardId-00000000000{i}"),
                StreamShard {
                    incoming_records: series.clone(),
                    incoming_bytes: series.iter().map(|v| v.map(|r| r * 120.0)).collect(),
                    write_throttled: vec![Some(0.0); 61],
                    ..Default::default()
                },
            );
        }
        update(&mut others, Msg::Server(stream));
        press(&mut others, Key::Char(' '));
        press(&mut others, Key::Char('s'));
        press(&mut others, Key::Right);
        let mut reshard = app(&[(2, shard(9000, 20, 1_040_000, 0))]);
        reshard.selected = 2;
        press(&mut reshard, Key::Char('S'));
        let mut merge = app(&[(2, shard(200, 200, 20_000, 0))]);
        merge.selected = 2;
        press(&mut merge, Key::Char('M'));
        let mut scale = app(&[]);
        press(&mut scale, Key::Char('#'));
        press(&mut scale, Key::Backspace);
        press(&mut scale, Key::Char('6'));
        press(&mut scale, Key::Enter);
        let mut metrics = app(&[]);
        press(&mut metrics, Key::Char('m'));
        // The hot-key scenario in its second stage, its first keys' numbers on the screen.
        let (name, scenario) = crate::demo::find("hot-key").unwrap();
        let mut demo = app(&[(2, shard(1000, 1000, 120_000, 500))]);
        demo.demo = Some(crate::tui::pane::demo::Demo::new(&name, scenario));
        let t0 = std::time::Instant::now();
        update(&mut demo, Msg::Now(t0));
        update(&mut demo, Msg::Now(t0 + Duration::from_secs(8)));
        update(&mut demo, Msg::Now(t0 + Duration::from_secs(11)));
        let mut editing = app(&[]);
        editing.focus = crate::tui::app::Pane::Keys;
        press(&mut editing, Key::Enter);
        press(&mut editing, Key::Char(':'));
        press(&mut editing, Key::Enter);
        for (name, app) in [
            ("idle", &idle),
            ("random", &random),
            ("hot", &hot),
            ("throttled", &throttled),
            ("error", &error),
            ("help", &help),
            ("editing", &editing),
            ("other_producers", &others),
            ("reshard", &reshard),
            ("merge", &merge),
            ("scale", &scale),
            ("metrics_question", &metrics),
            ("demo", &demo),
        ] {
            for (w, h) in [(80, 24), (120, 40)] {
                insta::assert_snapshot!(format!("tui_{name}_{w}x{h}"), draw(app, w, h));
            }
        }
    }

    #[test]
    fn every_chart_kind_draws_with_its_legend() {
        let mut a = app(&[
            (0, shard(900, 900, 1000, 3)),
            (1, shard(500, 500, 1000, 0)),
            (2, shard(300, 300, 1000, 0)),
            (3, shard(100, 100, 1000, 0)),
        ]);
        for expected in [
            "Kinesis records/s",
            "KiB/s",
            "throttled records/s",
            "latency p99",
            "% of write limit",
        ] {
            press(&mut a, Key::Char('c'));
            let screen = draw(&a, 120, 40);
            assert!(screen.contains(expected), "{expected}:\n{screen}");
            assert!(screen.contains("#0 (selected)"), "{screen}");
        }
    }

    #[test]
    fn m_shows_the_cost_question() {
        let mut a = app(&[]);
        press(&mut a, Key::Char('m'));
        let screen = draw(&a, 80, 24);
        assert!(screen.contains("enhanced monitoring"), "{screen}");
        assert!(screen.contains("bills"), "{screen}");
    }

    #[test]
    fn quitting_says_what_is_pending_and_how_to_quit_now() {
        let mut a = app(&[(1, shard(1000, 1000, 600_000, 0))]);
        let mut snapshot = a.metrics.clone();
        snapshot.shards.values_mut().for_each(|s| s.pending = 1234);
        update(&mut a, Msg::Metrics(snapshot));
        press(&mut a, Key::Char('q'));
        let screen = draw(&a, 120, 40);
        assert!(
            screen.contains("quitting: sending 1234 pending, q again quits now"),
            "{screen}"
        );
    }

    #[test]
    fn utilisation_is_the_higher_of_records_and_bytes_against_the_limits() {
        assert!((utilisation(&shard(9000, 20, 1_048_576 * 100 / 99, 0)) - 1.0).abs() < 1e-6);
        assert!((utilisation(&shard(500, 500, 1000, 0)) - 0.495).abs() < 1e-9);
        assert_eq!(utilisation(&ShardSnapshot::default()), 0.0);
    }

    #[test]
    fn many_shards_show_the_hottest_and_the_selected_one() {
        let map = Arc::new(ShardMap::even_split(64));
        let mut app = App::new("s", "t", map.clone());
        let mut snapshot = MetricsSnapshot::default();
        snapshot
            .shards
            .insert(map.shards()[40].shard_id.clone(), shard(900, 900, 1000, 0));
        update(&mut app, Msg::Metrics(snapshot));
        app.selected = 63;
        let screen = draw(&app, 80, 24);
        assert!(screen.contains("│000000000040"), "{screen}");
        assert!(screen.contains("│000000000063"), "{screen}");
    }

    #[test]
    fn closed_shards_follow_the_open_ones_greyed() {
        let even = ShardMap::even_split(2);
        let mut shards = even.shards().to_vec();
        let mut parent = shards[0].clone();
        parent.shard_id = "shardId-000000000009".into();
        parent.open = false;
        shards.push(parent);
        let map = ShardMap::new(shards);
        let app = App::new("s", "t", Arc::new(map));
        let screen = draw(&app, 120, 40);
        let row = screen
            .lines()
            .find(|l| l.contains("000000000009"))
            .unwrap_or_else(|| panic!("{screen}"));
        assert!(row.contains("closed"), "{row}");
        assert_eq!(app.map.open_count(), 2);
    }

    #[test]
    fn clicks_find_the_shard_under_the_mouse() {
        let app = app(&[(3, shard(900, 900, 1000, 0))]);
        let area = Rect::new(0, 0, 120, 40);
        let r = Regions::of(area, app.demo.is_some());
        let strip_y = r.strip.y + 1;
        // The strip is 118 columns inside its border: four shards of about 30 columns.
        assert_eq!(hit(&app, area, 1, strip_y), Some(Hit::Shard(0)));
        assert_eq!(hit(&app, area, 118, strip_y), Some(Hit::Shard(3)));
        assert_eq!(hit(&app, area, 61, strip_y), Some(Hit::Shard(2)));
        // Table rows follow the header, in shard order when all fit.
        assert_eq!(hit(&app, area, 3, r.table.y + 2), Some(Hit::Shard(0)));
        assert_eq!(hit(&app, area, 3, r.table.y + 5), Some(Hit::Shard(3)));
        assert_eq!(
            hit(&app, area, r.sending.x + 2, r.sending.y + 3),
            Some(Hit::Setting(Setting::BufferTime))
        );
        assert_eq!(
            hit(&app, area, r.keys.x + 2, r.keys.y + 2),
            Some(Hit::Pane(Pane::Keys))
        );
        assert_eq!(hit(&app, area, 0, 0), None);
    }
}
