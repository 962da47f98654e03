//! Rendering the clickstream sample template (issue target: at least 500,000 records/s on one
//! core), against a baseline of formatting the same fields with `format!` in the same run.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kwb::compose::template::{RenderContext, Template};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;

const RECORDS: u64 = 10_000;

fn bench(c: &mut Criterion) {
    let text = include_str!("../assets/templates/clickstream.json");
    let template = Template::parse(text).unwrap();
    let mut group = c.benchmark_group("template");
    group.throughput(Throughput::Elements(RECORDS));
    group.bench_function("clickstream", |b| {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut out = String::new();
        b.iter(|| {
            for seq in 0..RECORDS {
                template.render(RenderContext { seq, shard: None }, &mut rng, &mut out);
                black_box(&out);
            }
        })
    });
    group.bench_function("format_baseline", |b| {
        let mut rng = SmallRng::seed_from_u64(1);
        b.iter(|| {
            for seq in 0..RECORDS {
                let out = format!(
                    "{{\"event_id\":\"{}\",\"user_id\":\"u-{}\",\"seq\":{seq}}}",
                    uuid::Builder::from_random_bytes(rng.gen()).into_uuid(),
                    rng.gen_range(0..20_000)
                );
                black_box(out);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
