//! A small fault-injecting HTTP/1.1 proxy for tests: it sits between the SDK and a real server and,
//! chosen by a seeded generator, resets connections (before or after forwarding), answers 500,
//! marks entries of a PutRecords answer as InternalFailure, or answers too late; on demand
//! holds the requests that match a text without an answer; and may add fields to the stream's
//! DescribeStreamSummary answer, as a service with newer features describes a stream.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    ResetBeforeForward,
    ResetAfterForward,
    Http500,
    RecordFailures,
    Slow,
}

pub const FAULTS: [Fault; 6] = [
    Fault::Pass,
    Fault::ResetBeforeForward,
    Fault::ResetAfterForward,
    Fault::Http500,
    Fault::RecordFailures,
    Fault::Slow,
];

#[derive(Debug, Default)]
pub struct Stats {
    counts: [AtomicU64; 6],
    /// Requests held without an answer because they matched `hang_matching`.
    pub hung: AtomicU64,
}

impl Stats {
    pub fn count(&self, fault: Fault) -> u64 {
        self.counts[FAULTS.iter().position(|f| *f == fault).unwrap()].load(Relaxed)
    }
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    /// While set, every request whose head contains this text (an operation such as
    /// `Kinesis_20131202.ListShards`, or a path) is held open and never answered.
    pub hang_matching: Arc<Mutex<Option<String>>>,
    /// Fields set in every DescribeStreamSummary answer's StreamDescriptionSummary.
    pub describe_with: Arc<Mutex<Option<serde_json::Value>>>,
}

struct Shared {
    upstream: SocketAddr,
    rng: Mutex<SmallRng>,
    /// Chance of each fault other than Pass, for requests that carry records.
    fault_rate: f64,
    kinds: Vec<Fault>,
    slow: Duration,
    stats: Arc<Stats>,
    hang_matching: Arc<Mutex<Option<String>>>,
    describe_with: Arc<Mutex<Option<serde_json::Value>>>,
}

impl FaultProxy {
    /// Proxies to `upstream`; each PutRecords request meets a fault with `fault_rate` chance,
    /// spread evenly over `kinds`. Other requests pass untouched.
    pub async fn start(
        upstream: SocketAddr,
        seed: u64,
        fault_rate: f64,
        kinds: &[Fault],
        slow: Duration,
    ) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::default());
        let hang_matching = Arc::new(Mutex::new(None));
        let describe_with = Arc::new(Mutex::new(None));
        let shared = Arc::new(Shared {
            hang_matching: hang_matching.clone(),
            describe_with: describe_with.clone(),
            upstream,
            rng: Mutex::new(SmallRng::seed_from_u64(seed)),
            fault_rate,
            kinds: kinds.to_vec(),
            slow,
            stats: stats.clone(),
        });
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, shared.clone()));
            }
        });
        FaultProxy {
            addr,
            stats,
            hang_matching,
            describe_with,
        }
    }

    /// Holds every request whose head contains `text` from now on (`None`: none).
    pub fn hang(&self, text: Option<&str>) {
        *self.hang_matching.lock().unwrap() = text.map(str::to_string);
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Reads one HTTP/1.1 message (head and Content-Length body); `None` at end of stream.
async fn read_message(socket: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&byte[..n]);
    }
    Some((head, body))
}

/// The head with its Content-Length replaced.
fn with_length(head: &str, length: usize) -> String {
    let mut out: String = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("content-length:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    out.push_str(&format!("Content-Length: {length}\r\n\r\n"));
    out
}

/// Drops the connection with a TCP reset.
fn reset(socket: TcpStream) {
    let _ = socket.set_zero_linger();
    drop(socket);
}

/// Marks about a third of the answer's entries as InternalFailure.
fn fail_some_entries(body: &[u8], rng: &mut SmallRng) -> Vec<u8> {
    let mut answer: serde_json::Value = serde_json::from_slice(body).unwrap();
    let mut failed = answer["FailedRecordCount"].as_u64().unwrap_or(0);
    for entry in answer["Records"].as_array_mut().unwrap() {
        if entry.get("ErrorCode").is_none() && rng.gen_bool(0.33) {
            *entry = serde_json::json!({"ErrorCode": "InternalFailure", "ErrorMessage": "injected by the test proxy"});
            failed += 1;
        }
    }
    answer["FailedRecordCount"] = failed.into();
    serde_json::to_vec(&answer).unwrap()
}

async fn serve(mut socket: TcpStream, shared: Arc<Shared>) {
    while let Some((head, body)) = read_message(&mut socket).await {
        let hang = shared.hang_matching.lock().unwrap().clone();
        if hang.is_some_and(|text| head.contains(&text)) {
            shared.stats.hung.fetch_add(1, Relaxed);
            return std::future::pending().await;
        }
        let is_put = head.contains("Kinesis_20131202.PutRecords");
        let fault = {
            let mut rng = shared.rng.lock().unwrap();
            if is_put && rng.gen_bool(shared.fault_rate) {
                shared.kinds[rng.gen_range(0..shared.kinds.len())]
            } else {
                Fault::Pass
            }
        };
        shared.stats.counts[FAULTS.iter().position(|f| *f == fault).unwrap()].fetch_add(1, Relaxed);
        match fault {
            Fault::ResetBeforeForward => return reset(socket),
            Fault::Http500 => {
                let body =
                    br#"{"__type":"InternalFailure","message":"injected by the test proxy"}"#;
                let head = with_length("HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/x-amz-json-1.1\r\n", body.len());
                if socket.write_all(head.as_bytes()).await.is_err()
                    || socket.write_all(body).await.is_err()
                {
                    return;
                }
                continue;
            }
            _ => {}
        }
        let Ok(mut upstream) = TcpStream::connect(shared.upstream).await else {
            return reset(socket);
        };
        let request = with_length(&head, body.len());
        if upstream.write_all(request.as_bytes()).await.is_err()
            || upstream.write_all(&body).await.is_err()
        {
            return reset(socket);
        }
        let Some((answer_head, mut answer)) = read_message(&mut upstream).await else {
            return reset(socket);
        };
        let described = head.contains("Kinesis_20131202.DescribeStreamSummary");
        let extra = shared.describe_with.lock().unwrap().clone();
        if let (true, Some(extra), true) =
            (described, extra, answer_head.starts_with("HTTP/1.1 200"))
        {
            let mut value: serde_json::Value = serde_json::from_slice(&answer).unwrap();
            for (k, v) in extra.as_object().unwrap() {
                value["StreamDescriptionSummary"][k] = v.clone();
            }
            answer = serde_json::to_vec(&value).unwrap();
        }
        match fault {
            Fault::ResetAfterForward => return reset(socket),
            Fault::Slow => tokio::time::sleep(shared.slow).await,
            Fault::RecordFailures if answer_head.starts_with("HTTP/1.1 200") => {
                let mut rng = shared.rng.lock().unwrap();
                answer = fail_some_entries(&answer, &mut rng);
            }
            _ => {}
        }
        let head = with_length(&answer_head, answer.len());
        if socket.write_all(head.as_bytes()).await.is_err()
            || socket.write_all(&answer).await.is_err()
        {
            return;
        }
    }
}
