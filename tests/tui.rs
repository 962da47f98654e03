//! The workbench end to end in a pseudo-terminal: kwb with no arguments on the embedded
//! default, driven by keys, its screen read back through a terminal emulator.

mod common;

use common::{isolated_env, ISOLATED_UNSET};
use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WIDTH: NonZeroU16 = NonZeroU16::new(120).unwrap();
const HEIGHT: NonZeroU16 = NonZeroU16::new(40).unwrap();

/// kwb running in a pseudo-terminal, its output fed to a vt100 screen by a reader thread.
struct Workbench {
    child: Box<dyn Child + Send + Sync>,
    keys: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    _terminal: Box<dyn MasterPty + Send>,
    _data: tempfile::TempDir,
}

impl Workbench {
    fn start() -> Workbench {
        let data = tempfile::tempdir().unwrap();
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: HEIGHT.get(),
                cols: WIDTH.get(),
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pseudo-terminal");
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_kwb"));
        for var in ISOLATED_UNSET {
            command.env_remove(var);
        }
        for (key, value) in isolated_env(data.path()) {
            command.env(key, value);
        }
        command.env("TERM", "xterm-256color");
        let child = pty.slave.spawn_command(command).expect("start kwb");
        drop(pty.slave);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(HEIGHT, WIDTH, 0)));
        let mut output = pty.master.try_clone_reader().unwrap();
        let fed = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 {
                    break;
                }
                fed.lock().unwrap().process(&buf[..n]);
            }
        });
        let keys = pty.master.take_writer().unwrap();
        Workbench {
            child,
            keys,
            screen,
            _terminal: pty.master,
            _data: data,
        }
    }

    fn press(&mut self, keys: &str) {
        self.keys.write_all(keys.as_bytes()).unwrap();
        self.keys.flush().unwrap();
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until `done` holds, failing with the screen after `within` (or, while kwb must
    /// keep running, as soon as it exits).
    fn wait_until(
        &mut self,
        what: &str,
        within: Duration,
        must_run: bool,
        mut done: impl FnMut(&mut Workbench) -> bool,
    ) {
        let deadline = Instant::now() + within;
        while !done(self) {
            if must_run {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!(
                        "kwb exited ({status:?}) before {what}:\n{}",
                        self.contents()
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {within:?}:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits, while kwb runs, until its screen satisfies `ok`.
    fn wait_for(&mut self, what: &str, within: Duration, ok: impl Fn(&str) -> bool) {
        self.wait_until(what, within, true, |kwb| ok(&kwb.contents()));
    }
}

impl Drop for Workbench {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

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
