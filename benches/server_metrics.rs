//! What counting puts per shard costs the embedded server (issue target: under 5 % of its
//! request time): full PutRecords requests (500 records of 100 bytes, random keys, 4 shards,
//! limits off) answered by a server with the counting layer and by one without, in one run.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kwb::kinesis::admin::ensure_stream;
use kwb::kinesis::client::{connect, TargetArgs};
use kwb::kinesis::embedded::{EmbeddedOptions, EmbeddedServer};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let entries: Vec<PutRecordsRequestEntry> = (0..500)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("key-{i}"))
                .data(Blob::new(vec![b'x'; 100]))
                .build()
                .unwrap()
        })
        .collect();
    let mut group = c.benchmark_group("embedded_put_records_500x100B");
    group.throughput(Throughput::Elements(500));
    for (name, shard_metrics) in [
        ("without_counting_baseline", false),
        ("with_counting", true),
    ] {
        let (server, client) = rt.block_on(async {
            let server = EmbeddedServer::start(EmbeddedOptions {
                enforce_limits: false,
                shard_metrics,
                ..EmbeddedOptions::default()
            })
            .await
            .unwrap();
            let connection = connect(&TargetArgs {
                endpoint_url: Some(kwb::config::EndpointUrl(server.endpoint())),
                ..TargetArgs::default()
            })
            .await
            .unwrap();
            ensure_stream(&connection.admin, "bench", 4, true)
                .await
                .unwrap();
            (server, connection.producer)
        });
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(
                    client
                        .put_records()
                        .stream_name("bench")
                        .set_records(Some(entries.clone()))
                        .send(),
                )
                .unwrap()
            })
        });
        drop(server);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
