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
