//! Drawing one workbench frame at 120x40 (issue targets: under 2 ms with 64 shards and five
//! minutes of 1-second history, under 10 ms with 500 shards), against drawing the idle
//! workbench (4 shards, no history) in the same run.

use criterion::{criterion_group, criterion_main, Criterion};
use kwb::kinesis::shard_map::ShardMap;
use kwb::producer::metrics::{MetricsSnapshot, ShardSnapshot};
use kwb::tui::app::{update, App, Msg};
use kwb::tui::view::view;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::sync::Arc;

const HISTORY: usize = 300;

/// A workbench on `shards` shards, every one with `HISTORY` seconds of varied traffic.
fn busy(shards: u32) -> App {
    let map = Arc::new(ShardMap::even_split(shards));
    let mut app = App::new("bench", "embedded", map.clone());
    let mut snapshot = MetricsSnapshot::default();
    for (i, shard) in map.shards().iter().enumerate() {
        let series = |scale: u64| -> Vec<u64> {
            (0..HISTORY as u64)
                .map(|t| (t * 7 + i as u64 * 13) % 100 * scale)
                .collect()
        };
        snapshot.shards.insert(
            shard.shard_id.clone(),
            ShardSnapshot {
                user_records: 1_000_000,
                kinesis_records: 20_000,
                records_per_sec: series(50),
                kinesis_records_per_sec: series(10),
                bytes_per_sec: series(10_000),
                throttled_per_sec: series(1),
                latency_p50_us_per_sec: series(200),
                latency_p99_us_per_sec: series(900),
                ..ShardSnapshot::default()
            },
        );
    }
    update(&mut app, Msg::Metrics(snapshot));
    update(&mut app, Msg::Key(kwb::tui::app::Key::Char(' ')));
    app
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tui_frame_120x40");
    let idle = App::new("bench", "embedded", Arc::new(ShardMap::even_split(4)));
    for (name, app) in [
        ("idle_4_shards_baseline", idle),
        ("64_shards_300s", busy(64)),
        ("500_shards_300s", busy(500)),
    ] {
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                terminal.draw(|frame| view(&app, frame)).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
