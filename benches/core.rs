//! The producer core without I/O: hash, route, aggregate and collect (no rate limits) 100-byte
//! records with UUID partition keys over 64 shards, into an in-memory sink.
//!
//! Baseline in the same run: MD5 of the same keys alone, the floor any KPL-compatible producer
//! pays per record.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kwb::kinesis::hash_key::HashKey;
use kwb::kinesis::shard_map::ShardMap;
use kwb::producer::config::ProducerConfig;
use kwb::producer::metrics::ProducerMetrics;
use kwb::producer::pipeline::Pipeline;
use kwb::producer::record::{NewRecord, UserRecord};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;

const RECORDS: usize = 100_000;
const SHARDS: u32 = 64;

fn inputs() -> Vec<NewRecord> {
    let data = Bytes::from(vec![b'x'; 100]);
    (0..RECORDS)
        .map(|i| {
            let key =
                uuid::Builder::from_random_bytes((i as u128 * 0x9E37_79B9_7F4A_7C15).to_le_bytes())
                    .into_uuid()
                    .to_string();
            NewRecord::new(key, data.clone())
        })
        .collect()
}

/// Runs every record through the core; returns the Kinesis records that came out.
fn run_core(records: Vec<NewRecord>, map: &Arc<ShardMap>) -> usize {
    let mut pipeline = Pipeline::new(
        ProducerConfig::default(),
        map.clone(),
        ProducerMetrics::new(),
    )
    .without_rate_limits();
    let now = Instant::now();
    let mut sunk = 0;
    for (i, record) in records.into_iter().enumerate() {
        let (reply, _outcome) = oneshot::channel();
        pipeline.add(UserRecord::new(record, reply, now), now);
        if i % 4096 == 4095 {
            sunk += pipeline
                .poll(now, usize::MAX)
                .iter()
                .map(Vec::len)
                .sum::<usize>();
        }
    }
    pipeline.set_flushing(true);
    sunk + pipeline
        .poll(now, usize::MAX)
        .iter()
        .map(Vec::len)
        .sum::<usize>()
}

fn bench(c: &mut Criterion) {
    let map = Arc::new(ShardMap::even_split(SHARDS));
    let records = inputs();
    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(20);
    group.bench_function("md5_of_keys_baseline", |b| {
        b.iter(|| {
            for r in &records {
                black_box(HashKey::of_partition_key(&r.partition_key));
            }
        })
    });
    group.bench_function("aggregate_and_collect_64_shards", |b| {
        b.iter_batched(
            || records.clone(),
            |batch| black_box(run_core(batch, &map)),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
