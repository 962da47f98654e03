//! A guard against panics from user input: the kwb binary run with every numeric flag at and past
//! its edges (0, negative, NaN, infinities, 1e20, empty, too long), bad strings, missing and
//! non-UTF-8 files, and the extra cases in `tests/data/cli-edges.txt`. Every run must end by
//! itself with exit code 0, 1 or 2 (never 101), say `error:` when it fails and name the flag or
//! the input, leave the terminal alone (no screen switching without a terminal), and leave
//! nothing running but the background server.
//!
//! Each case runs twice: against an endpoint that refuses connections (whatever passes
//! validation fails there, naming the endpoint) and, for `put`, against the embedded server with
//! a small `--count`, where settings that pass validation are really used.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const REFUSING: &str = "http://127.0.0.1:1";
const NUMBERS: [&str; 12] = [
    "0",
    "-1",
    "NaN",
    "inf",
    "-inf",
    "1e20",
    "1e-30",
    "",
    "18446744073709551616",
    "-0",
    "0.5",
    "abc",
];

/// (subcommand words, numeric flag) pairs the edges are tried on.
const NUMERIC_FLAGS: [(&[&str], &str); 20] = [
    (&["put"], "--count"),
    (&["put"], "--duration"),
    (&["put"], "--rate"),
    (&["put"], "--size"),
    (&["put"], "--seed"),
    (&["put"], "--rate-limit"),
    (&["put"], "--max-buffered-ms"),
    (&["put"], "--record-ttl"),
    (&["put"], "--request-timeout"),
    (&["put"], "--max-record-bytes"),
    (&["put"], "--shards"),
    (&["shards"], "--api-timeout"),
    (&["read"], "--limit"),
    (&["metrics"], "--minutes"),
    (&["hotkeys"], "--top"),
    (&["metrics"], "--watch"),
    (&["serve", "--idle-exit", "1"], "--port"),
    (&["serve"], "--idle-exit"),
    (&["streams", "create", "edges"], "--shards"),
    (&["demo", "hot-key", "--headless"], "--seed"),
];

/// Rate shapes and key strategies with a number at an edge in every position.
fn shape_cases() -> Vec<Vec<String>> {
    let mut cases = Vec::new();
    for edge in ["0", "-1", "NaN", "inf", "1e20", "1e-30", ""] {
        for shape in [
            format!("ramp:{edge}:100:1"),
            format!("ramp:100:{edge}:1"),
            format!("ramp:100:0:{edge}"),
            format!("burst:{edge}:1:1"),
            format!("burst:100:{edge}:1"),
            format!("burst:100:1:{edge}"),
            format!("sine:{edge}:100:1"),
            format!("sine:1:100:{edge}"),
            format!("constant:{edge}"),
        ] {
            cases.push(vec!["put".into(), "--rate".into(), shape]);
        }
        for key in [
            format!("zipf:{edge}:1"),
            format!("zipf:10:{edge}"),
            format!("ehk:{edge}"),
            format!("fixed:{edge}"),
        ] {
            cases.push(vec!["put".into(), "--key".into(), key]);
        }
    }
    cases
}

/// The cases of `tests/data/cli-edges.txt`, placeholders filled in.
fn file_cases(scratch: &Path) -> Vec<Vec<String>> {
    let bad_utf8 = scratch.join("bad-utf8.txt");
    std::fs::write(&bad_utf8, b"\xff\xfe{{seq}}\n\xc3\x28\n").unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cli-edges.txt"
    ))
    .unwrap();
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            line.split('\t')
                .map(|word| match word {
                    "<EMPTY>" => String::new(),
                    "<LONG>" => "x".repeat(300),
                    "<BAD_UTF8>" => bad_utf8.display().to_string(),
                    "<MISSING>" => scratch.join("missing").display().to_string(),
                    other => other.replace("<LONG>", &"x".repeat(300)),
                })
                .collect()
        })
        .collect()
}

fn all_cases(scratch: &Path) -> Vec<Vec<String>> {
    let mut cases: Vec<Vec<String>> = NUMERIC_FLAGS
        .iter()
        .flat_map(|(words, flag)| {
            NUMBERS.iter().map(move |value| {
                let mut case: Vec<String> = words.iter().map(|w| w.to_string()).collect();
                case.push(flag.to_string());
                case.push(value.to_string());
                case
            })
        })
        .collect();
    cases.extend(shape_cases());
    cases.extend(file_cases(scratch));
    cases
}

/// What one run did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs kwb with `args` (no terminal, stdin closed), at most `limit`.
fn run(data: &Path, args: &[String], limit: Duration) -> Result<Run, String> {
    let child = common::kwb_command(data)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(output)) => Ok(Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        }),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            Err(format!("still running after {limit:?}"))
        }
    }
}

/// Why a run broke the rules, if it did.
fn broken(args: &[String], run: &Run, endpoint: Option<&str>) -> Option<String> {
    let code = run.code?;
    if ![0, 1, 2].contains(&code) {
        return Some(format!("exit code {code}"));
    }
    if run.stderr.contains("panicked") {
        return Some("panicked".into());
    }
    for screen in ["\x1b[?1049h", "\x1b[?25l", "\x1b[?1000h"] {
        if run.stdout.contains(screen) || run.stderr.contains(screen) {
            return Some(format!("touched the terminal ({screen:?})"));
        }
    }
    if code == 0 {
        return None;
    }
    if !run.stderr.contains("error:") {
        return Some("failed without saying error:".into());
    }
    // The flag or the value must be named (an empty value as ""), unless the target or the
    // records were what failed.
    let named = args.iter().any(|a| {
        let word = a.trim_start_matches('-');
        (word.len() > 1 && run.stderr.contains(word))
            || (a.is_empty() && run.stderr.contains("\"\""))
    }) || endpoint.is_some_and(|e| run.stderr.contains(e))
        || run.stderr.contains("records failed");
    (!named).then(|| "the error names neither the flag nor the input".into())
}

/// Runs every case on `threads` threads; returns the failures.
fn run_all(
    cases: Vec<Vec<String>>,
    data: &Path,
    endpoint: Option<&'static str>,
    limit: Duration,
) -> Vec<String> {
    let cases = std::sync::Mutex::new(cases.into_iter());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| loop {
                let Some(args) = cases.lock().unwrap().next() else {
                    return;
                };
                let outcome = run(data, &args, limit);
                let why = match &outcome {
                    Ok(run) => broken(&args, run, endpoint),
                    Err(e) => Some(e.clone()),
                };
                if let Some(why) = why {
                    let stderr = outcome.map(|r| r.stderr).unwrap_or_default();
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("kwb {args:?}: {why}\n  stderr: {stderr}"));
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

#[test]
fn no_argument_at_any_edge_makes_kwb_panic_or_hang() {
    let scratch = tempfile::tempdir().unwrap();
    let cases: Vec<Vec<String>> = all_cases(scratch.path())
        .into_iter()
        .map(|case| {
            let mut args = vec!["--endpoint-url".to_string(), REFUSING.to_string()];
            args.extend(case);
            args
        })
        .collect();
    let failures = run_all(
        cases,
        scratch.path(),
        Some(REFUSING),
        Duration::from_secs(30),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn put_settings_that_pass_validation_run_against_the_embedded_server() {
    let scratch = tempfile::tempdir().unwrap();
    let cases: Vec<Vec<String>> = all_cases(scratch.path())
        .into_iter()
        .filter(|case| case[0] == "put")
        .map(|mut case| {
            let has =
                |case: &[String], flags: &[&str]| case.iter().any(|a| flags.contains(&a.as_str()));
            if !has(&case, &["--count", "--duration", "--lines"]) {
                case.extend(["--count".to_string(), "3".to_string()]);
            }
            if !has(&case, &["--record-ttl"]) {
                case.extend(["--record-ttl".to_string(), "5".to_string()]);
            }
            case
        })
        .collect();
    let failures = run_all(cases, scratch.path(), None, Duration::from_secs(60));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing but the background server (which stops after its idle time) is left running.
    let left: Vec<_> = common::processes_of(scratch.path())
        .into_iter()
        .filter(|(_, args)| !args.iter().any(|a| a == "serve"))
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
}
