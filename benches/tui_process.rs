//! The workbench's cost as a process (issue targets: idle under 1 % of one core; sending
//! 5,000 records/s to the embedded server under 50 % of one core, producer included; resident
//! memory under 60 MB). Runs the release kwb in a pseudo-terminal at 120x40 and reads its CPU
//! time and memory from /proc; the embedded server runs in its own process and is reported
//! beside it.
//!
//! `KWB_BENCH_SECS` sets each measuring window (default 20); `KWB_BENCH_HISTORY_SECS` keeps
//! sending that much longer before memory is read (600 fills the 10-minute history).

#[path = "../tests/common/mod.rs"]
mod common;

use common::memory_mib;
use common::pty::Workbench;
use std::time::{Duration, Instant};

fn env_secs(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// Clock ticks per second of /proc's CPU times.
fn clock_ticks() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(100.0)
}

/// User + system CPU seconds a process has used.
fn cpu_seconds(pid: u32, ticks: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("process stat");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let utime: f64 = fields[11].parse().unwrap();
    let stime: f64 = fields[12].parse().unwrap();
    (utime + stime) / ticks
}

/// The background `kwb serve` started for this workbench's data folder.
fn server_pid(data: &std::path::Path) -> Option<u32> {
    common::processes_of(data)
        .into_iter()
        .find_map(|(pid, args)| args.iter().any(|a| a == "serve").then_some(pid))
}

/// Share of one core each process used over `window`.
fn cpu_share(pids: &[u32], window: Duration, ticks: f64) -> Vec<f64> {
    let before: Vec<f64> = pids.iter().map(|p| cpu_seconds(*p, ticks)).collect();
    let start = Instant::now();
    std::thread::sleep(window);
    let elapsed = start.elapsed().as_secs_f64();
    pids.iter()
        .zip(before)
        .map(|(p, b)| (cpu_seconds(*p, ticks) - b) / elapsed * 100.0)
        .collect()
}

/// Total records/s the status bar shows.
fn status_rate(screen: &str) -> u64 {
    screen
        .lines()
        .nth(1)
        .and_then(|l| l.split('|').nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn main() {
    // `cargo test --all-targets` builds and runs benches without `--bench`: a minute of
    // measuring does not belong in the test run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("tui_process: measured only by `cargo bench --bench tui_process`");
        return;
    }
    let window = env_secs("KWB_BENCH_SECS", 20);
    let history = env_secs("KWB_BENCH_HISTORY_SECS", 0);
    let ticks = clock_ticks();
    let mut kwb = Workbench::start();
    kwb.wait_for("the workbench", Duration::from_secs(60), |s| {
        s.contains("paused")
    });
    let tui = kwb.pid();
    let server = server_pid(kwb.data.path()).expect("the background server's process");
    // Let start-up settle before measuring idle.
    std::thread::sleep(Duration::from_secs(3));
    let idle = cpu_share(&[tui, server], window, ticks);
    // 500/s -> 1000, 2000, 4000, 5000 records/s.
    kwb.press("++++ ");
    kwb.wait_for("sending at 5,000 records/s", Duration::from_secs(30), |s| {
        s.contains("sending 5000/s") && status_rate(s) > 4_500
    });
    let sending = cpu_share(&[tui, server], window, ticks);
    let rate = status_rate(&kwb.contents());
    std::thread::sleep(history);
    let rss = [memory_mib(tui, "VmRSS:"), memory_mib(server, "VmRSS:")];
    let peak = [memory_mib(tui, "VmHWM:"), memory_mib(server, "VmHWM:")];
    kwb.press("qq");
    kwb.wait_until("exit", Duration::from_secs(30), false, |k| {
        matches!(k.child.try_wait(), Ok(Some(_)))
    });
    println!(
        "window {} s, then {} s more sending before memory",
        window.as_secs(),
        history.as_secs()
    );
    println!("| phase | kwb (TUI + producer) | embedded server process |");
    println!("|---|---|---|");
    println!("| idle, % of one core | {:.2} | {:.2} |", idle[0], idle[1]);
    println!(
        "| sending {rate} records/s, % of one core | {:.1} | {:.1} |",
        sending[0], sending[1]
    );
    println!("| resident memory, MiB | {:.1} | {:.1} |", rss[0], rss[1]);
    println!(
        "| peak resident memory, MiB | {:.1} | {:.1} |",
        peak[0], peak[1]
    );
}
