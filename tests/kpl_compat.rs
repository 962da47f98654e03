//! Compatibility with the reference KPL aggregation (`aws-kinesis-agg` from PyPI): it decodes
//! every aggregate kwb writes, and kwb decodes every aggregate it writes.
//!
//! The test script (`scripts/test.sh`) installs the reference into a virtualenv and sets
//! `KWB_PYTHON`; it is ignored by a plain `cargo test` (counted as ignored) and fails without it.

use base64::Engine;
use kwb::kinesis::hash_key::HashKey;
use kwb::producer::aggregation::{deaggregate, Aggregator};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

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

fn kwb_aggregate(records: &[UserRecord]) -> Vec<u8> {
    let mut agg = Aggregator::new();
    for r in records {
        agg.add(&r.pk, r.ehk.map(HashKey), &r.data);
    }
    agg.finish()
}

#[test]
#[ignore = "needs KWB_PYTHON with aws-kinesis-agg: scripts/test.sh installs it and runs this test"]
fn reference_deaggregator_and_kwb_agree() {
    let python = std::env::var("KWB_PYTHON")
        .expect("KWB_PYTHON is not set: run this test through scripts/test.sh, which installs it");
    let mut rng = SmallRng::seed_from_u64(2026);
    // Every record in an aggregate either has an explicit hash key or none: the reference
    // deaggregator reads a missing index as 0 when the table is not empty.
    let batches: Vec<Vec<UserRecord>> = (0..20)
        .map(|i| user_records(&mut rng, 1 + i * 7, i % 2 == 0))
        .collect();
    let aggregates: Vec<String> = batches
        .iter()
        .map(|b| B64.encode(kwb_aggregate(b)))
        .collect();
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
    for (batch, got) in batches.iter().zip(decoded) {
        let got = got.as_array().unwrap();
        assert_eq!(got.len(), batch.len());
        for (want, got) in batch.iter().zip(got) {
            assert_eq!(got["pk"], want.pk);
            assert_eq!(
                B64.decode(got["data"].as_str().unwrap()).unwrap(),
                want.data
            );
            if let Some(ehk) = want.ehk {
                assert_eq!(got["ehk"], ehk.to_string());
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
