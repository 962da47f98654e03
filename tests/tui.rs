//! The workbench end to end in a pseudo-terminal: kwb with no arguments on the embedded
//! default, driven by keys, its screen read back through a terminal emulator.

use crate::common;

use common::pty::{table_rows, Workbench};
use std::time::Duration;

/// (records/s, % of write limit) per shard.
fn shard_rows(screen: &str) -> Vec<(u64, u64)> {
    table_rows(screen)
        .into_iter()
        .map(|r| (r.rate, r.limit))
        .collect()
}

#[test]
fn space_sends_a_fixed_key_makes_one_hot_shard_and_q_restores_the_terminal() {
    let mut kwb = Workbench::start();
    kwb.wait_paused();
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
    let status = kwb.exit_with_summary(Duration::from_secs(60));
    assert!(status.success(), "exit {status:?}:\n{}", kwb.contents());
}

#[test]
fn ctrl_c_and_signals_end_the_workbench_and_restore_the_terminal() {
    // Ctrl-C, even from the help screen, quits (nothing is pending: at once).
    let mut kwb = Workbench::start();
    kwb.wait_paused();
    kwb.press("?");
    kwb.press("\x03");
    kwb.exit_with_summary(Duration::from_secs(10));
    // SIGTERM and SIGHUP while sending stop now, SIGINT as Ctrl-C: the terminal restored and
    // the summary printed.
    for signal in ["-TERM", "-HUP", "-INT"] {
        let mut kwb = Workbench::start();
        kwb.wait_paused();
        kwb.press(" ");
        kwb.wait_for("sending", Duration::from_secs(30), |s| {
            shard_rows(s).iter().any(|(rate, _)| *rate > 0)
        });
        common::signal(kwb.pid(), signal);
        kwb.exit_with_summary(Duration::from_secs(15));
    }
}

/// Another producer (a second kwb process) writes to the stream the workbench shows: in the
/// stream's view its shard is hot and starred, while kwb itself sends nothing.
#[test]
fn another_producer_shows_as_a_starred_hot_shard_in_the_stream_view() {
    let mut kwb = Workbench::start();
    kwb.wait_paused();
    kwb.press("s");
    kwb.wait_for("the stream's numbers", Duration::from_secs(10), |s| {
        s.contains("numbers: the stream's")
    });
    let mut other = common::kwb_command(kwb.data.path())
        .args(["put", "--key", "fixed:other", "--no-aggregate"])
        .args(["--rate", "600", "--duration", "60"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the other producer");
    kwb.wait_for(
        "one starred shard at the other producer's rate",
        Duration::from_secs(30),
        |s| {
            let rows = table_rows(s);
            let starred: Vec<_> = rows.iter().filter(|r| r.starred).collect();
            rows.len() == 4
                && starred.len() == 1
                && starred[0].limit >= 40
                && rows.iter().all(|r| r.rate == 0)
        },
    );
    let _ = other.kill();
    let _ = other.wait();
    kwb.press("qq");
}

/// The workbench's sender against a real server: it sends what the plan asks (bursts and single
/// records, counted exactly), shows the next record, and stops with a reason when the plan
/// cannot be composed, instead of retrying it forever.
#[tokio::test]
async fn the_sender_sends_bursts_exactly_and_stops_on_a_record_it_cannot_compose() {
    use kwb::producer::config::ProducerConfig;
    use kwb::tui::app::{App, Msg};
    use kwb::tui::keylog::KeyLog;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    let (_target, producer) = common::producer("sender", 4, ProducerConfig::default()).await;
    let producer = Arc::new(producer);
    let mut app = App::new("sender", "test", producer.shard_map());
    let (plan_tx, plan_rx) = tokio::sync::watch::channel(app.plan());
    let (inbox, mut events) = tokio::sync::mpsc::unbounded_channel();
    let log = Arc::new(Mutex::new(KeyLog::new(Instant::now())));
    let sender = tokio::spawn(kwb::tui::sender::run(
        producer.clone(),
        plan_rx,
        log.clone(),
        inbox,
        7,
    ));

    app.extra = 1_001;
    plan_tx.send(app.plan()).unwrap();
    let delivered = |p: &kwb::producer::Producer| p.metrics().snapshot(0).sum(|s| s.user_records);
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered(&producer) < 1_001 {
        assert!(Instant::now() < deadline, "burst not delivered");
        producer.flush().await;
        tokio::task::yield_now().await;
    }
    assert_eq!(
        delivered(&producer),
        1_001,
        "exactly the burst and the single record"
    );
    let view = log.lock().unwrap().view(None, 0);
    assert_eq!(view.recent.len(), kwb::tui::keylog::RECENT);
    assert_eq!(view.next.expect("a next record").bytes, 36 + 100);

    // Keys from a JSON field of records that are not JSON: sending stops, once, saying why.
    app.strategy = "field:/user_id".parse().unwrap();
    app.sending = true;
    plan_tx.send(app.plan()).unwrap();
    let Some(Msg::SendStopped(why)) = events.recv().await else {
        panic!("expected the sender to stop")
    };
    assert!(why.contains("/user_id"), "{why}");
    drop(plan_tx);
    sender.await.unwrap();
    assert!(
        events.try_recv().is_err(),
        "stopped once, not on every tick"
    );
    assert_eq!(delivered(&producer), 1_001);
}

/// The number after "pending " in the status bar.
fn pending(screen: &str) -> u64 {
    screen
        .split("pending ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_second_q_quits_at_once_and_reports_what_was_pending() {
    let mut kwb = Workbench::start();
    kwb.wait_paused();
    // A fixed key, unaggregated, at 8,000 records/s: the shard's backlog fills (two seconds of
    // its limit, ~2,000 records), which takes about two seconds to drain after the first q.
    kwb.press("ka++++ ");
    kwb.wait_for("the shard's backlog full", Duration::from_secs(60), |s| {
        pending(s) >= 1_500
    });
    kwb.press("q");
    kwb.wait_for("quitting", Duration::from_secs(10), |s| {
        s.contains("q again quits now")
    });
    kwb.press("q");
    let asked = std::time::Instant::now();
    let mut status = None;
    kwb.wait_until(
        "exit after the second q",
        Duration::from_secs(30),
        false,
        |kwb| {
            status = kwb.child.try_wait().unwrap();
            status.is_some()
        },
    );
    let took = asked.elapsed();
    kwb.wait_until("summary line", Duration::from_secs(10), false, |kwb| {
        kwb.contents().contains("undelivered at exit")
    });
    assert!(
        !status.unwrap().success(),
        "exit 1: records were undelivered"
    );
    assert!(took < Duration::from_secs(3), "the second q took {took:?}");
    // Counted after the shutdown: the undelivered are among the failed.
    let contents = kwb.contents();
    let line = contents
        .lines()
        .find(|l| l.contains("undelivered at exit"))
        .unwrap();
    let number_after = |word: &str| -> u64 {
        let rest = line.split(word).nth(1).unwrap().trim_start();
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let failed = number_after("failed ");
    let undelivered = number_after(", ");
    assert!(undelivered > 0 && undelivered <= failed, "{line}");
    assert!(!kwb.screen.lock().unwrap().screen().alternate_screen());
}

/// The key of the record the composer shows next (a UUID wraps onto the pane's next line).
fn next_key(screen: &str) -> Option<String> {
    let mut lines = screen.lines().skip_while(|l| !l.contains("next:"));
    let next = lines.next()?.split('│').nth(1)?;
    let key = next.split(", key").nth(1)?.trim();
    let key = if key.is_empty() {
        lines.next()?.split('│').nth(1)?.trim()
    } else {
        key
    };
    Some(key.to_string())
}

/// Opens the workbench, reads the next record's key and quits; returns it and the exit line.
fn first_key(args: &[&str]) -> (String, String) {
    let mut kwb = Workbench::start_with(args, &[]);
    kwb.wait_for("the next record", Duration::from_secs(60), |s| {
        next_key(s).is_some_and(|k| k.len() >= 32)
    });
    let key = next_key(&kwb.contents()).unwrap();
    kwb.press("q");
    kwb.wait_until("exit", Duration::from_secs(30), false, |kwb| {
        kwb.contents().contains("kwb-demo: ok")
    });
    let exit_line = kwb
        .contents()
        .lines()
        .find(|l| l.contains("kwb-demo: ok"))
        .unwrap()
        .to_string();
    (key, exit_line)
}

#[test]
fn each_session_has_a_fresh_seed_and_kwb_seed_repeats_one() {
    let (first, said) = first_key(&[]);
    let (second, _) = first_key(&[]);
    assert_ne!(first, second, "two sessions began with the same random key");
    let seed = said
        .split("(seed ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no seed in {said:?}"));
    let (repeated, again) = first_key(&["--seed", seed]);
    assert_eq!(repeated, first, "--seed {seed} did not repeat the session");
    assert!(again.ends_with(&format!("(seed {seed})")), "{again}");
}

/// The digits of the selected shard's id, from the strip's detail line.
fn selected_id(screen: &str) -> Option<String> {
    screen.lines().find_map(|line| {
        let rest = line.split("│shardId-").nth(1)?;
        rest.contains("% of limit").then(|| rest[..12].to_string())
    })
}

/// The selected shard's percent of its write limit, from the strip's detail line.
fn selected_limit(screen: &str) -> u64 {
    screen
        .lines()
        .find_map(|line| {
            let (before, _) = line.split_once("% of limit")?;
            line.contains("│shardId-")
                .then(|| before.rsplit(' ').next()?.parse().ok())?
        })
        .unwrap_or(0)
}

#[test]
fn s_splits_the_hot_shard_from_the_keyboard_while_sending_goes_on() {
    let mut kwb = Workbench::start();
    kwb.wait_paused();
    kwb.press(" ka++");
    kwb.wait_for("one hot shard", Duration::from_secs(30), |s| {
        shard_rows(s)
            .iter()
            .filter(|(_, limit)| *limit >= 90)
            .count()
            == 1
    });
    // Down the shards until the hot one is selected.
    for _ in 0..4 {
        let screen = kwb.contents();
        if selected_limit(&screen) >= 90 {
            break;
        }
        let before = selected_id(&screen);
        kwb.press("\x1b[B");
        kwb.wait_for("the next shard selected", Duration::from_secs(10), |s| {
            selected_id(s) != before
        });
    }
    kwb.wait_for("the hot shard selected", Duration::from_secs(10), |s| {
        selected_limit(s) >= 90
    });
    kwb.press("S");
    kwb.wait_for("the question", Duration::from_secs(10), |s| {
        s.contains(" reshard ") && s.contains("y: yes")
    });
    kwb.press("y");
    // Five open shards: the parent closed, its two children open and one of them hot, as
    // sending goes on.
    kwb.wait_for(
        "the split done and sending on",
        Duration::from_secs(60),
        |s| {
            let rows = shard_rows(s);
            s.contains("done: split")
                && rows.len() == 5
                && rows.iter().filter(|(_, limit)| *limit >= 90).count() == 1
        },
    );
    kwb.press("q");
    let status = kwb.exit_with_summary(Duration::from_secs(60));
    assert!(status.success(), "exit {status:?}:\n{}", kwb.contents());
}
