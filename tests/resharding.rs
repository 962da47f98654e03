//! Resharding under the producer's feet, made as `kwb streams split|merge|scale` makes it: after
//! a split, records predicted for the closed parent land on its children; the producer notices,
//! refreshes its shard map, and never leaves a sub-record on a shard that does not cover its hash
//! key (the KCL would drop the aggregate); through a split, a merge and a scaling every record
//! reaches a KCL consumer exactly once.

use crate::common;

use kwb::kinesis::hash_key::HashKey;
use kwb::kinesis::reshard::Reshard;
use kwb::kinesis::shard_map::list_shards;
use kwb::producer::config::ProducerConfig;
use kwb::producer::outcome::Outcome;
use kwb::producer::record::NewRecord;
use kwb::producer::Producer;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_shard_is_followed_and_no_record_lands_outside_its_shard() {
    let stream = "split";
    let t = common::target(stream, 2, false).await;
    let producer = Producer::start(
        t.connection.producer.clone(),
        stream,
        ProducerConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(producer.shard_map().open_count(), 2);

    let before = common::split_first_shard(&t.connection.admin, stream).await;
    let parent = &before.shards()[0];

    let keys: Vec<String> = (0..3_000).map(|i| format!("key-{i}")).collect();
    let mut pending = Vec::new();
    for key in &keys {
        pending.push(
            producer
                .put(NewRecord::new(key.clone(), "x"))
                .await
                .unwrap(),
        );
    }
    let after = list_shards(&t.connection.admin, stream).await.unwrap();
    for (key, p) in keys.iter().zip(pending) {
        let Outcome::Delivered(d) = p.await else {
            panic!("{key} failed")
        };
        let shard = after.get(&d.shard_id).unwrap();
        assert!(
            shard.contains(HashKey::of_partition_key(key)),
            "{key} on {}",
            d.shard_id
        );
    }
    let retried = producer.metrics().snapshot(0).sum(|s| s.retries);
    assert!(
        retried > 0,
        "no aggregate met the split: the test did not exercise it"
    );
    assert_eq!(
        producer.shard_map().open_count(),
        3,
        "the producer's map follows the split"
    );
    assert!(!producer.shard_map().get(&parent.shard_id).unwrap().open);
    producer.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_sent_through_a_split_a_merge_and_a_scaling_reach_a_kcl_consumer_exactly_once() {
    use kwb::compose::payload::Payloads;
    use std::collections::HashSet;
    use std::sync::Arc;

    let stream = "reshard-under-load";
    let t = common::target(stream, 2, false).await;
    let producer = Arc::new(
        Producer::start(
            t.connection.producer.clone(),
            stream,
            ProducerConfig::default(),
        )
        .await
        .unwrap(),
    );
    let records = 50_000u64;
    let (progress, mut sent) = tokio::sync::watch::channel(0u64);
    let putting = {
        let producer = producer.clone();
        tokio::spawn(async move {
            let payloads = Payloads::new(40, 9);
            let mut pending = Vec::new();
            for seq in 0..records {
                let record = NewRecord::new(format!("key-{seq}"), payloads.payload(seq));
                pending.push(producer.put(record).await.unwrap());
                if seq % 50 == 49 {
                    // About 5,000 records/s, so that resharding happens while records flow.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    let _ = progress.send(seq + 1);
                }
            }
            let mut outcomes = Vec::new();
            for p in pending {
                outcomes.push(p.await);
            }
            outcomes
        })
    };
    let client = &t.connection.admin;
    // Each change as `kwb streams split|merge|scale` makes it, while records flow.
    sent.wait_for(|&n| n >= records / 4).await.unwrap();
    let before = common::split_first_shard(client, stream).await;
    let parent = before.shards()[0].shard_id.clone();
    let map = list_shards(client, stream).await.unwrap();
    assert!(!map.get(&parent).unwrap().open);
    let children: Vec<_> = map
        .open_shards()
        .filter(|s| s.parent_shard_id.as_deref() == Some(parent.as_str()))
        .collect();
    assert_eq!(children.len(), 2, "the map shows the split's children");
    sent.wait_for(|&n| n >= records / 2).await.unwrap();
    // Merge the split's upper child with the shard after it.
    let open: Vec<_> = map.open_shards().map(|s| s.shard_id.clone()).collect();
    assert_eq!(open.len(), 3, "{open:?}");
    let merge = Reshard::Merge {
        shard: open[1].clone(),
        adjacent: open[2].clone(),
    };
    let map = common::reshard(client, stream, merge).await;
    assert_eq!(map.open_count(), 2);
    assert!(!map.get(&open[1]).unwrap().open && !map.get(&open[2]).unwrap().open);
    sent.wait_for(|&n| n >= 3 * records / 4).await.unwrap();
    let map = common::reshard(client, stream, Reshard::Scale { count: 3 }).await;
    assert_eq!(map.open_count(), 3);
    let outcomes = putting.await.unwrap();
    assert!(
        producer.metrics().snapshot(0).sum(|s| s.retries) > 0,
        "no aggregate met a reshard: the test did not exercise it"
    );

    let mut delivered = HashSet::new();
    for (seq, outcome) in outcomes.iter().enumerate() {
        let Outcome::Delivered(d) = outcome else {
            panic!("record {seq}: {outcome:?}")
        };
        delivered.insert((d.sequence_number.clone(), d.sub_sequence_number));
    }
    // Read as a KCL consumer does: aggregates partly outside their shard are dropped whole.
    let read = common::read_all(client, stream).await;
    let mut seen = vec![0u32; records as usize];
    for r in &read {
        seen[common::payload_seq(&r.data) as usize] += 1;
        assert!(
            delivered.contains(&(r.sequence_number.clone(), r.sub_sequence_number)),
            "a copy no outcome names was read: {r:?}"
        );
    }
    let wrong: Vec<_> = seen.iter().enumerate().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "records not read exactly once: {:?}",
        &wrong[..wrong.len().min(10)]
    );
    assert_eq!(read.len(), delivered.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_made_before_another_reshard_is_refused_not_carried_out() {
    use kwb::kinesis::reshard::{apply, plan};
    let stream = "stale-plan";
    let t = common::target(stream, 2, false).await;
    let client = &t.connection.admin;
    let map = list_shards(client, stream).await.unwrap();
    let split = Reshard::Split {
        shard: map.shards()[0].shard_id.clone(),
        at: None,
    };
    let planned = plan(stream, &map, &split).unwrap();
    let wait = Duration::from_secs(60);
    apply(client, stream, &planned, wait).await.unwrap();
    // The same plan again (a second key press on a map not yet refreshed): its shard is closed.
    let error = apply(client, stream, &planned, wait).await.unwrap_err();
    assert!(error.to_string().contains("is closed"), "{error}");
    assert_eq!(list_shards(client, stream).await.unwrap().open_count(), 3);
}
