//! Compatibility with the reference KPL aggregation (`aws-kinesis-agg` from PyPI): it decodes
//! every aggregate kwb writes, and kwb decodes every aggregate it writes.
//!
//! The test script (`scripts/test.sh`) installs the reference into a virtualenv and sets
//! `KWB_PYTHON`; it is ignored by a plain `cargo test` (counted as ignored) and fails without it.

use base64::Engine;
use kwb::kinesis::hash_key::HashKey;
use kwb::kinesis::kpl_format::{deaggregate, kcl_accepts};
use kwb::kinesis::shard_map::ShardMap;
use kwb::producer::config::ProducerConfig;
use kwb::producer::metrics::ProducerMetrics;
use kwb::producer::pipeline::Pipeline;
use kwb::producer::record::{NewRecord, UserRecord as PipelineRecord};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct UserRecord {
    pk: String,
    ehk: Option<u128>,
    data: Vec<u8>,
}

fn user_records(rng: &mut SmallRng, n: usize, with_ehk: bool) -> Vec<UserRecord> {
    (0..n)
        .map(|i| UserRecord {
            // Some keys repeat, so the key table is shared.
            pk: format!("key-{}-é", rng.gen_range(0..n / 2 + 1)),
            ehk: with_ehk.then(|| rng.gen()),
            data: (0..rng.gen_range(0..400))
                .map(|_| rng.gen())
                .chain(i.to_string().into_bytes())
                .collect(),
        })
        .collect()
}

/// The aggregates kwb's producer makes of `records` (one shard, so that every explicit hash
/// key is in range), each with the records it holds; records that go out plain are left out.
fn kwb_aggregates(records: &[UserRecord]) -> Vec<(Vec<u8>, Vec<&UserRecord>)> {
    let map = Arc::new(ShardMap::even_split(1));
    let mut pipeline = Pipeline::new(
        ProducerConfig::default(),
        map.clone(),
        ProducerMetrics::new(),
    )
    .without_rate_limits();
    let now = Instant::now();
    let mut outcomes = Vec::new();
    for r in records {
        let (reply, outcome) = tokio::sync::oneshot::channel();
        let mut record = NewRecord::new(r.pk.clone(), r.data.clone());
        record.explicit_hash_key = r.ehk.map(HashKey);
        pipeline.add(PipelineRecord::new(record, reply, now), now);
        outcomes.push(outcome);
    }
    pipeline.set_flushing(true);
    let mut next = records.iter();
    let mut out = Vec::new();
    for k in pipeline.poll(now, usize::MAX).into_iter().flatten() {
        let members: Vec<&UserRecord> = next.by_ref().take(k.members.len()).collect();
        let users = deaggregate(&k.partition_key, None, &k.data);
        // The KCL's rule: every sub-record lies in the shard the aggregate goes to.
        assert!(kcl_accepts(&users, &map.shards()[0]));
        if k.is_aggregate() {
            out.push((k.data.to_vec(), members));
        }
    }
    assert!(next.next().is_none(), "every record was sent");
    out
}

#[test]
#[ignore = "needs KWB_PYTHON with aws-kinesis-agg: scripts/test.sh installs it and runs this test"]
fn reference_deaggregator_and_kwb_agree() {
    let python = std::env::var("KWB_PYTHON")
        .expect("KWB_PYTHON is not set: run this test through scripts/test.sh, which installs it");
    let mut rng = SmallRng::seed_from_u64(2026);
    // Runs of records with and without explicit hash keys, mixed in one stream of records.
    let records: Vec<UserRecord> = (0..40)
        .flat_map(|i| user_records(&mut rng, 1 + (i * 7) % 37, i % 2 == 0))
        .collect();
    let batches = kwb_aggregates(&records);
    assert!(batches.len() >= 4, "too few aggregates to compare");
    let aggregates: Vec<String> = batches.iter().map(|(data, _)| B64.encode(data)).collect();
    let reference_input: Vec<UserRecord> = user_records(&mut rng, 3000, false);
    let request = json!({
        "aggregates": aggregates,
        "user_records": reference_input.iter().map(|r| json!({
            "pk": r.pk, "ehk": Value::Null, "data": B64.encode(&r.data)
        })).collect::<Vec<_>>(),
    });

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/kpl_reference.py");
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("KWB_PYTHON={python} could not run: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the reference script failed");
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();

    // The reference reads every sub-record of kwb's aggregates intact.
    let decoded = answer["decoded"].as_array().unwrap();
    assert_eq!(decoded.len(), batches.len());
    for ((_, batch), got) in batches.iter().zip(decoded) {
        let got = got.as_array().unwrap();
        assert_eq!(got.len(), batch.len());
        for (want, got) in batch.iter().zip(got) {
            assert_eq!(got["pk"], want.pk);
            assert_eq!(
                B64.decode(got["data"].as_str().unwrap()).unwrap(),
                want.data
            );
            match want.ehk {
                Some(ehk) => assert_eq!(got["ehk"], ehk.to_string()),
                None => assert!(got["ehk"].is_null(), "{} read with {}", want.pk, got["ehk"]),
            }
        }
    }

    // kwb reads the reference's aggregates, in order, with nothing missing.
    let mut read_back = Vec::new();
    for agg in answer["encoded"].as_array().unwrap() {
        let data = B64.decode(agg["data"].as_str().unwrap()).unwrap();
        let users = deaggregate(agg["pk"].as_str().unwrap(), agg["ehk"].as_str(), &data);
        assert!(
            users.iter().all(|u| u.aggregated),
            "kwb did not recognise a reference aggregate"
        );
        read_back.extend(users);
    }
    assert_eq!(read_back.len(), reference_input.len());
    for (want, got) in reference_input.iter().zip(&read_back) {
        assert_eq!(got.partition_key, want.pk);
        assert_eq!(got.data, want.data);
    }
}
