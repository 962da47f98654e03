//! kwb's workbench in a pseudo-terminal: started with an isolated environment, driven by
//! keys, its screen read back through a vt100 emulator.

use super::{isolated_env, ISOLATED_UNSET};
use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const WIDTH: NonZeroU16 = NonZeroU16::new(120).unwrap();
pub const HEIGHT: NonZeroU16 = NonZeroU16::new(40).unwrap();

/// kwb running in a pseudo-terminal, its output fed to a vt100 screen by a reader thread.
pub struct Workbench {
    pub child: Box<dyn Child + Send + Sync>,
    keys: Box<dyn Write + Send>,
    pub screen: Arc<Mutex<vt100::Parser>>,
    _terminal: Box<dyn MasterPty + Send>,
    pub data: tempfile::TempDir,
}

impl Workbench {
    pub fn start() -> Workbench {
        Workbench::start_with(&[], &[])
    }

    /// The workbench with these arguments and environment variables besides the isolated ones.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Workbench {
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
        command.args(args);
        for (key, value) in env {
            command.env(key, value);
        }
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
            data,
        }
    }

    pub fn press(&mut self, keys: &str) {
        self.keys.write_all(keys.as_bytes()).unwrap();
        self.keys.flush().unwrap();
    }

    pub fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until `done` holds, failing with the screen after `within` (or, while kwb must
    /// keep running, as soon as it exits).
    pub fn wait_until(
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

    /// The workbench's process id.
    pub fn pid(&self) -> u32 {
        self.child.process_id().expect("kwb's process id")
    }

    /// Waits for kwb to exit and print its one-line summary; checks that the terminal is back
    /// (main screen, cursor shown, mouse capture off). Returns the exit status.
    pub fn exit_with_summary(&mut self, within: Duration) -> portable_pty::ExitStatus {
        let mut status = None;
        self.wait_until("exit", within, false, |kwb| {
            status = kwb.child.try_wait().unwrap();
            status.is_some()
        });
        // The reader thread may still be feeding the last bytes: wait for the summary line.
        self.wait_until("summary line", Duration::from_secs(10), false, |kwb| {
            kwb.contents().contains(": ok ")
        });
        let parser = self.screen.lock().unwrap();
        let screen = parser.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "the cursor is still hidden");
        assert_eq!(
            screen.mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "mouse capture is still on"
        );
        status.unwrap()
    }

    /// Waits for the workbench to open, paused, with its four shards in the table.
    pub fn wait_paused(&mut self) {
        self.wait_for("the workbench, paused", Duration::from_secs(60), |s| {
            s.contains("paused") && table_rows(s).len() == 4
        });
    }

    /// Waits, while kwb runs, until its screen satisfies `ok`.
    pub fn wait_for(&mut self, what: &str, within: Duration, ok: impl Fn(&str) -> bool) {
        self.wait_until(what, within, true, |kwb| ok(&kwb.contents()));
    }
}

impl Drop for Workbench {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A row of the workbench's shard table, as the screen shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    /// The screen line it is on.
    pub line: u16,
    /// The shard id's digits.
    pub id: String,
    pub rate: u64,
    /// Percent of the write limit.
    pub limit: u64,
    /// The thr/s cell as shown ("0", "<1", "12"), and the screen column it starts at.
    pub throttled: String,
    pub throttled_column: u16,
    /// Marked for other producers.
    pub starred: bool,
}

/// The shard table's rows on a screen.
pub fn table_rows(screen: &str) -> Vec<TableRow> {
    screen
        .lines()
        .enumerate()
        .filter_map(|(line, text)| {
            let chars: Vec<char> = text.chars().collect();
            // The table is the first pane on its line: its cells start after the first border.
            let start = chars.iter().position(|c| *c == '│')? + 1;
            let mut fields = Vec::new();
            let mut column = start;
            while column < chars.len() && chars[column] != '│' && fields.len() < 5 {
                if chars[column].is_whitespace() {
                    column += 1;
                    continue;
                }
                let from = column;
                while column < chars.len() && !chars[column].is_whitespace() && chars[column] != '│'
                {
                    column += 1;
                }
                fields.push((from, chars[from..column].iter().collect::<String>()));
            }
            let [(_, id), (_, rate), _, (_, limit), (thr_column, throttled)] = &fields[..] else {
                return None;
            };
            let starred = id.ends_with('*');
            let id = id.trim_end_matches('*');
            if id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            Some(TableRow {
                line: line as u16,
                id: id.to_string(),
                rate: rate.parse().ok()?,
                limit: limit.trim_end_matches('%').parse().ok()?,
                throttled: throttled.clone(),
                throttled_column: *thr_column as u16,
                starred,
            })
        })
        .collect()
}
