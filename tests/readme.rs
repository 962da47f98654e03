//! The README's examples, run as written from the repository's folder against the local server:
//! an example that stops working, or stops doing what its comment says, fails the suite.
//!
//! Each `put` example gets a stream of its own (through `KWB_STREAM`, so the command line stays
//! as written) so that they can run side by side without sharing shard limits; `read` and
//! `tail` then read the streams the puts wrote.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The commands of the README's examples block, each with its comment.
fn examples() -> Vec<(Vec<String>, String)> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let block: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.ends_with("Examples:"))
        .skip_while(|l| !l.starts_with("```sh"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect();
    assert!(block.len() >= 5, "no examples block in README.md");
    block
        .iter()
        .map(|line| {
            let (command, comment) = line.split_once(" #").unwrap_or((line, ""));
            assert!(
                !command.contains(['"', '\'', '\\', '|', '$']),
                "{line:?}: this test splits commands on spaces only"
            );
            let words: Vec<String> = command.split_whitespace().map(String::from).collect();
            assert_eq!(words[0], "kwb", "{line:?}");
            (words[1..].to_vec(), comment.trim().to_string())
        })
        .collect()
}

/// kwb from the repository's folder, with the test's local data and `stream` as its stream.
fn kwb(data: &Path, args: &[String], stream: &str) -> Command {
    let mut command = common::kwb_command(data);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KWB_STREAM", stream)
        .args(args);
    command
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// The per-shard counts of a `kwb put` summary.
fn per_shard(summary: &str) -> Vec<u64> {
    summary
        .lines()
        .filter(|l| l.starts_with("shardId-"))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect()
}

/// The `records N  ok N  failed N` numbers of a `kwb put` summary.
fn counts(summary: &str) -> (u64, u64, u64) {
    let line = summary
        .lines()
        .find(|l| l.starts_with("records "))
        .unwrap_or_else(|| panic!("no counts in {summary}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let n = |name: &str| {
        let i = words.iter().position(|w| *w == name).unwrap();
        words[i + 1].parse::<u64>().unwrap()
    };
    (n("records"), n("ok"), n("failed"))
}

#[test]
fn every_readme_example_runs_as_written_and_does_what_its_comment_says() {
    let data = tempfile::tempdir().unwrap();
    let examples = examples();
    let (puts, others): (Vec<_>, Vec<_>) = examples
        .iter()
        .enumerate()
        .partition(|(_, (args, _))| args[0] == "put" && !args.contains(&"help".to_string()));
    // The server first, so that the examples started side by side share it.
    let started = kwb(data.path(), &["streams".into(), "list".into()], "none")
        .output()
        .unwrap();
    assert!(started.status.success(), "{:?}", text(&started));

    let tail = others
        .iter()
        .find(|(_, (args, _))| args[0] == "tail" || args.contains(&"--follow".to_string()));
    // `tail --follow` watches the stream of the first put that runs for a while.
    let followed = puts
        .iter()
        .find(|(_, (args, _))| args.contains(&"--duration".to_string()))
        .map(|(i, _)| format!("example-{i}"))
        .expect("a put example with --duration");
    let create = ["put".to_string(), "--count".into(), "0".into()];
    assert!(kwb(data.path(), &create, &followed)
        .status()
        .unwrap()
        .success());
    let mut follower = tail.map(|(_, (args, _))| {
        let mut child = kwb(data.path(), args, &followed)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the tail example");
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        (child, lines)
    });

    let running: Vec<_> = puts
        .iter()
        .map(|(i, (args, comment))| {
            let child = kwb(data.path(), args, &format!("example-{i}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a put example");
            (*i, args, comment, child)
        })
        .collect();
    for (i, args, comment, child) in running {
        let output = child.wait_with_output().unwrap();
        let (out, err) = text(&output);
        let shown = format!("kwb {} # {comment}\n{out}{err}", args.join(" "));
        assert!(output.status.success(), "{shown}");
        let (records, ok, failed) = counts(&out);
        assert_eq!((ok, failed), (records, 0), "{shown}");
        let shards = per_shard(&out);
        if let Some(count) = args.iter().position(|a| a == "--count") {
            assert_eq!(records, args[count + 1].parse::<u64>().unwrap(), "{shown}");
        }
        if comment.contains("exactly even per shard") {
            assert!(shards.iter().all(|n| *n == shards[0]), "{shown}");
        }
        if comment.contains("one hot shard") {
            assert_eq!(shards.iter().filter(|n| **n > 0).count(), 1, "{shown}");
        }
        if comment.contains("spread over 4 shards") {
            assert_eq!(shards.len(), 4, "{shown}");
            assert!(shards.iter().all(|n| *n > records / 8), "{shown}");
        }
        if let Some(lines) = args.iter().position(|a| a == "--lines") {
            let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(&args[lines + 1]);
            let expected = std::fs::read_to_string(file).unwrap().lines().count() as u64;
            assert_eq!(records, expected, "one record per line: {shown}");
        }
        // `read --limit N` reads the first put's stream.
        if i == puts[0].0 {
            for (_, (args, comment)) in others.iter().filter(|(_, (a, _))| a[0] == "read") {
                let output = kwb(data.path(), args, &format!("example-{i}"))
                    .output()
                    .unwrap();
                let (out, err) = text(&output);
                assert!(output.status.success(), "kwb {args:?} # {comment}: {err}");
                if let Some(limit) = args.iter().position(|a| a == "--limit") {
                    let limit: usize = args[limit + 1].parse().unwrap();
                    assert_eq!(out.lines().count(), limit, "kwb {args:?}: {out}");
                }
            }
        }
    }

    if let Some((mut child, lines)) = follower.take() {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = 0;
        while seen < 10 {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the tail example printed no new records");
            let record: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}"));
            assert!(record["partition_key"].is_string(), "{line}");
            seen += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    // The rest run on their own: each must succeed.
    let handled =
        |args: &[String]| args[0] == "read" || Some(args) == tail.map(|(_, (a, _))| a.as_slice());
    for (_, (args, comment)) in others.iter().filter(|(_, (a, _))| !handled(a)) {
        let output = kwb(data.path(), args, &format!("example-{}", puts[0].0))
            .output()
            .unwrap();
        let (out, err) = text(&output);
        assert!(output.status.success(), "kwb {args:?} # {comment}: {err}");
        if args[0] == "demo" && args.contains(&"--headless".to_string()) {
            assert!(out.lines().last().unwrap().starts_with("passed: "), "{out}");
        }
        if *args == ["demo"] {
            assert!(out.lines().any(|l| l.starts_with("hot-key ")), "{out}");
        }
        if args.contains(&"help".to_string()) {
            for strategy in [
                "random",
                "fixed:",
                "ehk:",
                "shard-round-robin",
                "field:",
                "zipf:",
            ] {
                assert!(out.contains(strategy), "{strategy} not in {out}");
            }
        }
    }
}
