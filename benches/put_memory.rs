//! `kwb put`'s resident memory over a long run against a throttled stream (issue target: flat
//! however long it runs; the last sample within 20 % of the one at 30 s). Runs the release
//! `kwb put --key fixed:k --no-aggregate --rate max --duration SECS --record-ttl 3600` against
//! the embedded server (one hot shard: everything past its 1,000 records/s waits) and reads
//! VmRSS every 10 s while it sends. `KWB_BENCH_SECS` sets the run (default 300).

#[path = "../tests/common/mod.rs"]
mod common;

use common::memory_mib;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn main() {
    // `cargo test --all-targets` builds and runs benches without `--bench`: five minutes of
    // measuring do not belong in the test run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("put_memory: measured only by `cargo bench --bench put_memory`");
        return;
    }
    let secs: u64 = std::env::var("KWB_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let data = tempfile::tempdir().unwrap();
    let mut put = common::kwb_command(data.path())
        .args([
            "put",
            "--key",
            "fixed:k",
            "--no-aggregate",
            "--rate",
            "max",
            "--duration",
            &secs.to_string(),
            "--record-ttl",
            "3600",
            "--json",
        ])
        .env("KWB_IDLE_EXIT_SECS", "60")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kwb put");
    let start = Instant::now();
    let mut samples = Vec::new();
    for t in (10..=secs).step_by(10) {
        std::thread::sleep(
            (start + Duration::from_secs(t)).saturating_duration_since(Instant::now()),
        );
        if put.try_wait().unwrap().is_some() {
            break;
        }
        samples.push((t, memory_mib(put.id(), "VmRSS:")));
    }
    let _ = put.kill();
    let _ = put.wait();
    println!("| seconds | resident memory, MiB |");
    println!("|---|---|");
    for (t, rss) in &samples {
        println!("| {t} | {rss:.1} |");
    }
    let at_30 = samples.iter().find(|(t, _)| *t == 30).map(|s| s.1);
    if let (Some(at_30), Some((t, last))) = (at_30, samples.last()) {
        println!(
            "last ({t} s) / at 30 s = {:.3} (target at most 1.20)",
            last / at_30
        );
    }
}
