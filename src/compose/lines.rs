//! Lines of a file or of standard input as record data, read on a thread of their own so that
//! waiting for input (a terminal, a quiet pipe) never blocks the async loop that sends them: the
//! loop awaits [`LineFeed::wait`] beside Ctrl-C, then the composer takes the line.

use std::io::BufRead;
use tokio::sync::mpsc;

/// Lines read ahead of the composer, at most this many.
const READ_AHEAD: usize = 1024;

pub struct LineFeed {
    lines: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    /// A line taken by `wait` and not yet by `next_line`.
    waiting: Option<std::io::Result<Vec<u8>>>,
    ended: bool,
}

impl LineFeed {
    /// Starts reading `input` on a thread; each line loses its `\n` or `\r\n`.
    pub fn spawn(mut input: Box<dyn BufRead + Send>) -> LineFeed {
        let (tx, lines) = mpsc::channel(READ_AHEAD);
        std::thread::spawn(move || loop {
            let mut line = Vec::new();
            let line = match input.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => Ok(strip_line_ending(line)),
                Err(error) => Err(error),
            };
            let failed = line.is_err();
            if tx.blocking_send(line).is_err() || failed {
                return;
            }
        });
        LineFeed {
            lines,
            waiting: None,
            ended: false,
        }
    }

    /// Waits until the next line (or the end of the input) is there to take.
    pub async fn wait(&mut self) {
        if self.waiting.is_none() && !self.ended {
            self.waiting = self.lines.recv().await;
            self.ended = self.waiting.is_none();
        }
    }

    /// The next line, `None` at the end of the input. Outside an async context it waits for the
    /// line itself; inside one, call [`LineFeed::wait`] first.
    pub fn next_line(&mut self) -> Option<std::io::Result<Vec<u8>>> {
        if let Some(line) = self.waiting.take() {
            return Some(line);
        }
        if self.ended {
            return None;
        }
        let line = self.lines.blocking_recv();
        self.ended = line.is_none();
        line
    }
}

fn strip_line_ending(mut line: Vec<u8>) -> Vec<u8> {
    if line.ends_with(b"\n") {
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
    }
    line
}
