//! Shared test harness: an in-process ferrokinesis server on a loopback port, clients for it, and
//! reading a stream back. The benchmarks use it too (each a part of it), hence the allowance.
#![allow(dead_code)]

pub mod proxy;
pub mod pty;

use aws_sdk_kinesis::Client;
use kwb::kinesis::admin::ensure_stream;
use kwb::kinesis::client::{connect, Connection, TargetArgs};
use kwb::kinesis::embedded::{EmbeddedOptions, EmbeddedServer};
use kwb::kinesis::reader::{read, ReadOptions, ReadRecord, StartAt};
use kwb::kinesis::reshard::Reshard;
use kwb::kinesis::server_metrics::{fetch, ServerSnapshot};
use kwb::kinesis::shard_map::{list_shards, ShardMap};

/// A server of its own for one test, and clients pointed at `endpoint` (the server itself, or a
/// proxy in front of it).
pub struct TestTarget {
    pub server: EmbeddedServer,
    pub connection: Connection,
}

pub async fn server(enforce_limits: bool) -> EmbeddedServer {
    EmbeddedServer::start(EmbeddedOptions {
        enforce_limits,
        ..EmbeddedOptions::default()
    })
    .await
    .expect("start ferrokinesis")
}

pub async fn clients(endpoint: &str) -> Connection {
    connect(&TargetArgs {
        endpoint_url: Some(kwb::config::EndpointUrl(endpoint.to_string())),
        ..TargetArgs::default()
    })
    .await
    .expect("connect")
}

/// A server with a stream of `shards` shards, and clients talking to it directly.
pub async fn target(stream: &str, shards: u32, enforce_limits: bool) -> TestTarget {
    let server = server(enforce_limits).await;
    let connection = clients(&server.endpoint()).await;
    ensure_stream(&connection.admin, stream, shards, true)
        .await
        .expect("create stream");
    TestTarget { server, connection }
}

/// A server with a stream, and a producer with `config` talking to it directly.
pub async fn producer(
    stream: &str,
    shards: u32,
    config: kwb::producer::config::ProducerConfig,
) -> (TestTarget, kwb::producer::Producer) {
    let t = target(stream, shards, true).await;
    let producer = kwb::producer::Producer::start(t.connection.producer.clone(), stream, config)
        .await
        .expect("start producer");
    (t, producer)
}

/// A server without limits with a stream, a fault proxy in front of it, and clients for both.
pub struct Proxied {
    pub server: EmbeddedServer,
    pub direct: Connection,
    pub proxy: proxy::FaultProxy,
    pub via_proxy: Connection,
}

pub async fn proxied(
    stream: &str,
    shards: u32,
    seed: u64,
    fault_rate: f64,
    kinds: &[proxy::Fault],
    slow: std::time::Duration,
) -> Proxied {
    let TestTarget { server, connection } = target(stream, shards, false).await;
    let upstream = server
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .expect("server address");
    let proxy = proxy::FaultProxy::start(upstream, seed, fault_rate, kinds, slow).await;
    let via_proxy = clients(&proxy.endpoint()).await;
    Proxied {
        server,
        direct: connection,
        proxy,
        via_proxy,
    }
}

/// A kwb command with its local data in `data`, no profiles file and no target, stream or
/// profile from the environment; background servers it starts stop soon after the test.
pub fn kwb_command(data: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kwb"));
    for var in ISOLATED_UNSET {
        command.env_remove(var);
    }
    command.envs(isolated_env(data));
    command
}

/// Variables a test's kwb must not take from the test's environment.
pub const ISOLATED_UNSET: [&str; 6] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KINESIS",
    "AWS_ENDPOINT_URL_CLOUDWATCH",
    "AWS_PROFILE",
    "KWB_STREAM",
    "KWB_PROFILE",
];

/// Variables that give a test's kwb its own data folder, no profiles file, and a background
/// server that stops soon after the test.
pub fn isolated_env(data: &std::path::Path) -> [(&'static str, std::ffi::OsString); 3] {
    [
        ("KWB_DATA_DIR", data.into()),
        ("KWB_CONFIG", data.join("no-config.toml").into()),
        ("KWB_IDLE_EXIT_SECS", "5".into()),
    ]
}

/// Runs a kwb command that must succeed; returns its stdout.
pub fn stdout_of(command: &mut std::process::Command) -> String {
    let output = command.output().expect("run kwb");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// Sends `signal` (e.g. `-INT`) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill {signal} {pid}");
}

/// Runs kwb in a data folder of its own (against `endpoint`, else the local server); its exit
/// code (-1 when killed), stdout and stderr.
pub fn kwb_run(endpoint: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let data = tempfile::tempdir().unwrap();
    let mut command = kwb_command(data.path());
    if let Some(endpoint) = endpoint {
        command.args(["--endpoint-url", endpoint]);
    }
    let output = command.args(args).output().expect("run kwb");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs kwb against `endpoint` in a data folder of its own; it must succeed. Returns stdout.
pub fn kwb_at(endpoint: &str, args: &[&str]) -> String {
    let data = tempfile::tempdir().unwrap();
    stdout_of(
        kwb_command(data.path())
            .args(["--endpoint-url", endpoint])
            .args(args),
    )
}

/// Changes the stream's shards as `kwb streams split|merge|scale` does (planned against the
/// shard map, then carried out until the stream is ACTIVE again); returns the map after.
pub async fn reshard(client: &Client, stream: &str, change: Reshard) -> ShardMap {
    let before = list_shards(client, stream).await.expect("list shards");
    let plan = kwb::kinesis::reshard::plan(stream, &before, &change).expect("plan the change");
    kwb::kinesis::reshard::apply(client, stream, &plan, std::time::Duration::from_secs(60))
        .await
        .expect("reshard");
    list_shards(client, stream).await.expect("list shards")
}

/// Splits the stream's first shard at its middle and waits for the stream to be ACTIVE again;
/// returns the shard map from before the split.
pub async fn split_first_shard(client: &Client, stream: &str) -> ShardMap {
    let before = list_shards(client, stream).await.expect("list shards");
    let shard = before.shards()[0].shard_id.clone();
    reshard(client, stream, Reshard::Split { shard, at: None }).await;
    before
}

/// Reads every record of every shard from TRIM_HORIZON to the current end, deaggregated, as a KCL
/// consumer sees them: records the KCL drops (in aggregates partly outside their shard) are left
/// out.
pub async fn read_all(client: &Client, stream: &str) -> Vec<ReadRecord> {
    let options = ReadOptions {
        stream: stream.to_string(),
        shard: None,
        start: StartAt::TrimHorizon,
        follow: false,
        efo: false,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let reading = async {
        read(client, &options, tx).await.expect("read the stream");
    };
    let collecting = async {
        let mut out = Vec::new();
        while let Some(record) = rx.recv().await {
            if !record.kcl_drops {
                out.push(record);
            }
        }
        out
    };
    tokio::join!(reading, collecting).1
}

/// The sequence number a payload made by `compose::payload::Payloads` starts with.
/// The last minute of a stream's counts from an embedded server.
pub async fn counts_of(endpoint: &str, stream: &str) -> ServerSnapshot {
    fetch(endpoint, stream, 60, std::time::Duration::from_secs(10))
        .await
        .unwrap()
}

pub fn payload_seq(data: &[u8]) -> u64 {
    let text = std::str::from_utf8(data).expect("utf-8 payload");
    text.split(' ')
        .next()
        .unwrap()
        .parse()
        .expect("sequence prefix")
}

/// A line of /proc/PID/status in MiB (VmRSS, VmHWM), for the process benchmarks.
pub fn memory_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// The processes started with `data` as their kwb data folder, each with its arguments.
pub fn processes_of(data: &std::path::Path) -> Vec<(u32, Vec<String>)> {
    let marker = format!("KWB_DATA_DIR={}", data.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            if !environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
                return None;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).to_string())
                .collect();
            Some((pid, args))
        })
        .collect()
}

/// An iterator at the start of one shard.
pub async fn trim_horizon_iterator(client: &Client, stream: &str, shard: &str) -> String {
    client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("shard iterator")
        .shard_iterator()
        .expect("an iterator")
        .to_string()
}
