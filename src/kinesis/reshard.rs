//! Resharding a stream: split a shard, merge two adjacent ones, or set the number of open shards
//! (uniform scaling). Each is planned first against the shard map (checked, and described in
//! words for a person to confirm), then carried out, waiting until the stream is ACTIVE again.

use crate::errors::describe as describe_error;
use crate::kinesis::admin::{
    describe, on_demand_refusal, wait_active, AdminError, MAX_SHARDS_EMBEDDED,
};
use crate::kinesis::hash_key::HashKey;
use crate::kinesis::shard_map::{list_shards, ShardInfo, ShardMap};
use aws_sdk_kinesis::types::ScalingType;
use aws_sdk_kinesis::Client;
use std::time::Duration;

/// A change to a stream's shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reshard {
    /// Split a shard at a hash key (by default the middle of its range): the new child starts
    /// there.
    Split { shard: String, at: Option<HashKey> },
    /// Merge a shard with the shard whose range is next to its own.
    Merge { shard: String, adjacent: String },
    /// Make the stream `count` open shards of equal ranges.
    Scale { count: u32 },
}

/// A checked change: what will be done, in words and as the call to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub description: String,
    change: Reshard,
    call: Call,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Split { shard: String, at: HashKey },
    Merge { shard: String, adjacent: String },
    Scale { count: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReshardError {
    #[error("shard {0} is not in the stream (kwb shards lists them)")]
    NoSuchShard(String),
    #[error("shard {0} is closed: only open shards can be split or merged")]
    Closed(String),
    #[error("split point {at} is outside shard {shard}'s range: it must be above its starting hash key {start} and at most its ending hash key {end}")]
    SplitOutside {
        shard: String,
        at: HashKey,
        start: u128,
        end: u128,
    },
    #[error("shard {0} owns a single hash key and cannot be split")]
    TooNarrow(String),
    #[error("shards {0} and {1} are not adjacent: the range of one must end just before the other's starts")]
    NotAdjacent(String, String),
    #[error("a shard cannot be merged with itself ({0})")]
    SameShard(String),
    #[error("shard count {count} is out of range: from {low} (half the {open} open shards) to {high} (double them, at most {MAX_SHARDS_EMBEDDED})")]
    ScaleOutOfRange {
        count: u32,
        open: usize,
        low: u32,
        high: u32,
    },
    #[error("the stream has {0} open shards already")]
    Unchanged(u32),
}

fn open_shard<'a>(map: &'a ShardMap, id: &str) -> Result<&'a ShardInfo, ReshardError> {
    let shard = map
        .get(id)
        .ok_or_else(|| ReshardError::NoSuchShard(id.to_string()))?;
    if !shard.open {
        return Err(ReshardError::Closed(id.to_string()));
    }
    Ok(shard)
}

/// The share of the key space a range is, as people read it.
fn share(start: u128, end: u128) -> String {
    let width = (end - start) as f64 + 1.0;
    format!("{:.2} %", width / 2f64.powi(128) * 100.0)
}

/// Checks `change` against the stream's shard map and says what it will do.
pub fn plan(stream: &str, map: &ShardMap, change: &Reshard) -> Result<Plan, ReshardError> {
    match change {
        Reshard::Split { shard, at } => {
            let parent = open_shard(map, shard)?;
            let (start, end) = (parent.starting_hash_key, parent.ending_hash_key);
            if start == end {
                return Err(ReshardError::TooNarrow(shard.clone()));
            }
            // The default halves the range: 2^127 for a shard that owns the whole key space.
            let at = at.unwrap_or(HashKey(start + (end - start) / 2 + 1));
            if at.0 <= start || at.0 > end {
                return Err(ReshardError::SplitOutside {
                    shard: shard.clone(),
                    at,
                    start,
                    end,
                });
            }
            Ok(Plan {
                change: change.clone(),
                description: format!(
                    "split {shard} of {stream} at hash key {at}: it closes, and two new shards take its range, {start}..{} ({}) and {at}..{end} ({})",
                    at.0 - 1,
                    share(start, at.0 - 1),
                    share(at.0, end)
                ),
                call: Call::Split {
                    shard: shard.clone(),
                    at,
                },
            })
        }
        Reshard::Merge { shard, adjacent } => {
            if shard == adjacent {
                return Err(ReshardError::SameShard(shard.clone()));
            }
            let (a, b) = (open_shard(map, shard)?, open_shard(map, adjacent)?);
            let (low, high) = if a.starting_hash_key < b.starting_hash_key {
                (a, b)
            } else {
                (b, a)
            };
            if low.ending_hash_key.checked_add(1) != Some(high.starting_hash_key) {
                return Err(ReshardError::NotAdjacent(shard.clone(), adjacent.clone()));
            }
            Ok(Plan {
                change: change.clone(),
                description: format!(
                    "merge {shard} and {adjacent} of {stream}: both close, and one new shard takes {}..{} ({})",
                    low.starting_hash_key,
                    high.ending_hash_key,
                    share(low.starting_hash_key, high.ending_hash_key)
                ),
                // The lower shard first, as every server takes the pair.
                call: Call::Merge {
                    shard: low.shard_id.clone(),
                    adjacent: high.shard_id.clone(),
                },
            })
        }
        Reshard::Scale { count } => {
            let open = map.open_count();
            let low = (open as u32).div_ceil(2).max(1);
            let high = (open as u32 * 2).min(MAX_SHARDS_EMBEDDED);
            if !(low..=high).contains(count) {
                return Err(ReshardError::ScaleOutOfRange {
                    count: *count,
                    open,
                    low,
                    high,
                });
            }
            if *count as usize == open {
                return Err(ReshardError::Unchanged(*count));
            }
            Ok(Plan {
                change: change.clone(),
                description: format!(
                    "scale {stream} from {open} to {count} open shards of equal ranges ({} each): the open shards close and new ones take the key space",
                    share(0, u128::MAX / *count as u128)
                ),
                call: Call::Scale { count: *count },
            })
        }
    }
}

/// Carries a plan out and waits (up to `wait`) until the stream is ACTIVE again. The plan is
/// checked again against the shard map as it is now: a shard closed since it was made (by
/// another reshard) is refused, not split again (a server may not refuse it itself).
/// Refuses to reshard an on-demand stream by hand: Kinesis manages its shards.
pub async fn refuse_on_demand(client: &Client, stream: &str) -> Result<(), AdminError> {
    if describe(client, stream).await?.facts().on_demand {
        return Err(AdminError::Service(on_demand_refusal(stream)));
    }
    Ok(())
}

pub async fn apply(
    client: &Client,
    stream: &str,
    plan: &Plan,
    wait: Duration,
) -> Result<(), AdminError> {
    refuse_on_demand(client, stream).await?;
    let now = list_shards(client, stream)
        .await
        .map_err(|e| AdminError::Service(describe_error(&e)))?;
    let checked =
        self::plan(stream, &now, &plan.change).map_err(|e| AdminError::Service(e.to_string()))?;
    if checked.call != plan.call {
        return Err(AdminError::Service(format!(
            "the shards changed since this was planned; plan it again ({})",
            checked.description
        )));
    }
    let sent = match &plan.call {
        Call::Split { shard, at } => client
            .split_shard()
            .stream_name(stream)
            .shard_to_split(shard)
            .new_starting_hash_key(at.to_string())
            .send()
            .await
            .map(drop)
            .map_err(|e| describe_error(&e)),
        Call::Merge { shard, adjacent } => client
            .merge_shards()
            .stream_name(stream)
            .shard_to_merge(shard)
            .adjacent_shard_to_merge(adjacent)
            .send()
            .await
            .map(drop)
            .map_err(|e| describe_error(&e)),
        Call::Scale { count } => client
            .update_shard_count()
            .stream_name(stream)
            .target_shard_count(*count as i32)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await
            .map(drop)
            .map_err(|e| describe_error(&e)),
    };
    sent.map_err(AdminError::Service)?;
    wait_active(client, stream, wait).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ShardMap {
        let mut shards = ShardMap::even_split(3).shards().to_vec();
        shards.push(ShardInfo {
            shard_id: "shardId-000000000009".into(),
            starting_hash_key: 0,
            ending_hash_key: 10,
            parent_shard_id: None,
            open: false,
        });
        ShardMap::new(shards)
    }

    fn split(shard: &str, at: Option<u128>) -> Reshard {
        Reshard::Split {
            shard: shard.into(),
            at: at.map(HashKey),
        }
    }

    #[test]
    fn a_split_defaults_to_the_middle_and_stays_inside_the_range() {
        let whole = ShardMap::even_split(1);
        let plan = plan("s", &whole, &split("shardId-000000000000", None)).unwrap();
        assert_eq!(
            plan.call,
            Call::Split {
                shard: "shardId-000000000000".into(),
                at: HashKey(1 << 127)
            }
        );
        assert!(plan.description.contains("(50.00 %) and 170141183460469231731687303715884105728..340282366920938463463374607431768211455 (50.00 %)"), "{}", plan.description);
        let first = &map().shards()[0].clone();
        let (start, end) = (first.starting_hash_key, first.ending_hash_key);
        for bad in [start, end + 1, 0] {
            let error = super::plan("s", &map(), &split(&first.shard_id, Some(bad))).unwrap_err();
            assert!(matches!(error, ReshardError::SplitOutside { .. }), "{bad}");
        }
        assert!(super::plan("s", &map(), &split(&first.shard_id, Some(end))).is_ok());
        assert!(super::plan("s", &map(), &split(&first.shard_id, Some(start + 1))).is_ok());
    }

    #[test]
    fn only_open_known_shards_of_more_than_one_key_are_split() {
        assert_eq!(
            plan("s", &map(), &split("shardId-000000000009", None)),
            Err(ReshardError::Closed("shardId-000000000009".into()))
        );
        assert_eq!(
            plan("s", &map(), &split("nope", None)),
            Err(ReshardError::NoSuchShard("nope".into()))
        );
        let narrow = ShardMap::new(vec![ShardInfo {
            shard_id: "a".into(),
            starting_hash_key: 5,
            ending_hash_key: 5,
            parent_shard_id: None,
            open: true,
        }]);
        assert_eq!(
            plan("s", &narrow, &split("a", None)),
            Err(ReshardError::TooNarrow("a".into()))
        );
    }

    #[test]
    fn merges_take_adjacent_open_shards_in_either_order() {
        let ids: Vec<String> = map().open_shards().map(|s| s.shard_id.clone()).collect();
        let merge = |a: &str, b: &str| {
            plan(
                "s",
                &map(),
                &Reshard::Merge {
                    shard: a.into(),
                    adjacent: b.into(),
                },
            )
        };
        assert!(merge(&ids[0], &ids[1]).is_ok());
        // Either order is taken; the call names the lower shard first.
        let reversed = merge(&ids[2], &ids[1]).unwrap();
        assert_eq!(
            reversed.call,
            Call::Merge {
                shard: ids[1].clone(),
                adjacent: ids[2].clone()
            }
        );
        assert!(merge(&ids[0], &ids[1])
            .unwrap()
            .description
            .contains("one new shard takes 0.."));
        assert_eq!(
            merge(&ids[0], &ids[2]),
            Err(ReshardError::NotAdjacent(ids[0].clone(), ids[2].clone()))
        );
        assert_eq!(
            merge(&ids[0], &ids[0]),
            Err(ReshardError::SameShard(ids[0].clone()))
        );
        assert!(matches!(
            merge(&ids[0], "shardId-000000000009"),
            Err(ReshardError::Closed(_))
        ));
    }

    #[test]
    fn scaling_stays_within_half_and_double_the_open_shards() {
        let scale = |count| plan("s", &map(), &Reshard::Scale { count });
        assert!(scale(2).is_ok() && scale(6).is_ok());
        for bad in [0, 1, 7, u32::MAX] {
            assert!(
                matches!(
                    scale(bad),
                    Err(ReshardError::ScaleOutOfRange {
                        low: 2,
                        high: 6,
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert_eq!(scale(3), Err(ReshardError::Unchanged(3)));
        assert!(scale(6)
            .unwrap()
            .description
            .contains("from 3 to 6 open shards"));
    }
}
