//! Shared test harness: an in-process ferrokinesis server on a loopback port, clients for it, and
//! reading a stream back.
#![allow(dead_code)]

pub mod proxy;

use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_kinesis::Client;
use kwb::kinesis::admin::ensure_stream;
use kwb::kinesis::client::{connect, Connection, TargetArgs};
use kwb::kinesis::embedded::{EmbeddedOptions, EmbeddedServer};
use kwb::producer::aggregation::{deaggregate, UserRecordData};

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

/// A user record read back, with where it was found.
#[derive(Debug, Clone)]
pub struct ReadBack {
    pub shard_id: String,
    pub sequence_number: String,
    pub record: UserRecordData,
}

/// Reads every record of every shard from TRIM_HORIZON to the current end, deaggregated.
pub async fn read_all(client: &Client, stream: &str) -> Vec<ReadBack> {
    let shards = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .expect("list shards");
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("iterator")
            .shard_iterator()
            .map(str::to_string);
        while let Some(it) = iterator {
            let page = client
                .get_records()
                .shard_iterator(it)
                .limit(10_000)
                .send()
                .await
                .expect("get records");
            for r in page.records() {
                for user in deaggregate(r.partition_key().unwrap_or(""), None, r.data().as_ref()) {
                    out.push(ReadBack {
                        shard_id: shard.shard_id().to_string(),
                        sequence_number: r.sequence_number().to_string(),
                        record: user,
                    });
                }
            }
            // An empty page means the reader has caught up with the shard's end.
            if page.records().is_empty() {
                break;
            }
            iterator = page.next_shard_iterator().map(str::to_string);
        }
    }
    out
}

/// The sequence number a payload made by `compose::payload::Payloads` starts with.
pub fn payload_seq(data: &[u8]) -> u64 {
    let text = std::str::from_utf8(data).expect("utf-8 payload");
    text.split(' ')
        .next()
        .unwrap()
        .parse()
        .expect("sequence prefix")
}
