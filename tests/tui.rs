//! The workbench end to end in a pseudo-terminal: kwb with no arguments on the embedded
//! default, driven by keys, its screen read back through a terminal emulator.

mod common;

use common::pty::Workbench;
use std::time::Duration;

/// The shard table's rows: (records/s, % of write limit) per shard.
fn shard_rows(screen: &str) -> Vec<(u64, u64)> {
    screen
        .lines()
        .filter_map(|line| {
            let cell = line.split('│').nth(1)?;
            let mut fields = cell.split_whitespace();
            let id = fields.next()?;
            if id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let rate = fields.next()?.parse().ok()?;
            let _kib = fields.next()?;
            let limit = fields.next()?.trim_end_matches('%').parse().ok()?;
            Some((rate, limit))
        })
        .collect()
}

#[test]
fn space_sends_a_fixed_key_makes_one_hot_shard_and_q_restores_the_terminal() {
    let mut kwb = Workbench::start();
    kwb.wait_for("the workbench, paused", Duration::from_secs(60), |s| {
        s.contains("paused") && shard_rows(s).len() == 4
    });
    // Left idle for longer than the local server's idle time (5 s in tests), the workbench
    // keeps its server: a user pausing to read must not find it gone.
    std::thread::sleep(Duration::from_secs(7));

    kwb.press(" ");
    kwb.wait_for("records on every shard", Duration::from_secs(30), |s| {
        let rows = shard_rows(s);
        rows.len() == 4 && rows.iter().all(|(rate, _)| *rate > 0)
    });

    // A fixed key, unaggregated, at 2,000 records/s: all of it on one shard, over its limit.
    kwb.press("ka++");
    kwb.wait_for(
        "one hot shard and three idle ones",
        Duration::from_secs(30),
        |s| {
            let rows = shard_rows(s);
            let hot = rows.iter().filter(|(_, limit)| *limit >= 90).count();
            let idle = rows.iter().filter(|(rate, _)| *rate == 0).count();
            s.contains("key fixed:hot-key") && hot == 1 && idle == 3
        },
    );

    kwb.press("q");
    let mut status = None;
    kwb.wait_until("exit after q", Duration::from_secs(60), false, |kwb| {
        status = kwb.child.try_wait().unwrap();
        status.is_some()
    });
    // The reader thread may still be feeding the last bytes: wait for the summary line.
    kwb.wait_until("summary line", Duration::from_secs(10), false, |kwb| {
        kwb.contents().contains("kwb-demo: ok")
    });
    let status = status.unwrap();
    assert!(status.success(), "exit {status:?}:\n{}", kwb.contents());
    let parser = kwb.screen.lock().unwrap();
    let screen = parser.screen();
    assert!(!screen.alternate_screen(), "still on the alternate screen");
    assert!(!screen.hide_cursor(), "the cursor is still hidden");
    assert_eq!(
        screen.mouse_protocol_mode(),
        vt100::MouseProtocolMode::None,
        "mouse capture is still on"
    );
}
