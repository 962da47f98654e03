//! The shard map: which shard owns which slice of the 128-bit hash-key space.
//!
//! Built from `ListShards` (every page), it keeps all shards for display and the open ones sorted
//! by their starting hash key, so `shard_for` is a binary search. Deciding *when* to refresh it
//! belongs to the producer; this module only models and fetches.

use crate::kinesis::hash_key::HashKey;
use aws_sdk_kinesis::Client;

/// One shard as `ListShards` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub shard_id: String,
    pub starting_hash_key: u128,
    pub ending_hash_key: u128,
    pub parent_shard_id: Option<String>,
    /// A closed shard has an ending sequence number and takes no more writes.
    pub open: bool,
}

impl ShardInfo {
    /// Whether `key` lies within this shard's hash range (inclusive at both ends).
    pub fn contains(&self, key: HashKey) -> bool {
        self.starting_hash_key <= key.0 && key.0 <= self.ending_hash_key
    }

    /// The share of the whole hash-key space this shard owns, from 0 to 1.
    pub fn share_of_key_space(&self) -> f64 {
        let width = (self.ending_hash_key - self.starting_hash_key) as f64 + 1.0;
        width / 2f64.powi(128)
    }

    /// The hash key in the middle of this shard's range.
    pub fn middle_hash_key(&self) -> HashKey {
        HashKey(self.starting_hash_key + (self.ending_hash_key - self.starting_hash_key) / 2)
    }
}

/// A snapshot of a stream's shards.
#[derive(Debug, Clone, Default)]
pub struct ShardMap {
    shards: Vec<ShardInfo>,
    /// Indexes into `shards` of the open shards, sorted by starting hash key.
    open_by_start: Vec<usize>,
    /// The ending hash keys of `open_by_start`, side by side for a cache-friendly search.
    open_ends: Vec<u128>,
}

impl ShardMap {
    pub fn new(mut shards: Vec<ShardInfo>) -> ShardMap {
        shards.sort_by(|a, b| a.shard_id.cmp(&b.shard_id));
        let mut open_by_start: Vec<usize> = (0..shards.len()).filter(|&i| shards[i].open).collect();
        open_by_start.sort_by_key(|&i| shards[i].starting_hash_key);
        let open_ends = open_by_start
            .iter()
            .map(|&i| shards[i].ending_hash_key)
            .collect();
        ShardMap {
            shards,
            open_by_start,
            open_ends,
        }
    }

    /// `n` open shards splitting the key space evenly, as Kinesis creates a stream's shards.
    pub fn even_split(n: u32) -> ShardMap {
        let n = n.max(1) as u128;
        let width = u128::MAX / n;
        let shards = (0..n)
            .map(|i| ShardInfo {
                shard_id: format!("shardId-{i:012}"),
                starting_hash_key: width * i + i,
                ending_hash_key: if i + 1 == n {
                    u128::MAX
                } else {
                    width * (i + 1) + i
                },
                parent_shard_id: None,
                open: true,
            })
            .collect();
        ShardMap::new(shards)
    }

    /// The open shard whose range contains `key`, in O(log n).
    pub fn shard_for(&self, key: HashKey) -> Option<&ShardInfo> {
        self.index_for(key).map(|i| &self.shards[i])
    }

    /// Like [`ShardMap::shard_for`], as an index into [`ShardMap::shards`].
    pub fn index_for(&self, key: HashKey) -> Option<usize> {
        let pos = self.open_ends.partition_point(|&end| end < key.0);
        let index = *self.open_by_start.get(pos)?;
        self.shards[index].contains(key).then_some(index)
    }

    /// Every shard, open and closed, ordered by shard id.
    pub fn shards(&self) -> &[ShardInfo] {
        &self.shards
    }

    /// The open shards, ordered by starting hash key.
    pub fn open_shards(&self) -> impl Iterator<Item = &ShardInfo> {
        self.open_by_start.iter().map(|&i| &self.shards[i])
    }

    pub fn open_count(&self) -> usize {
        self.open_by_start.len()
    }

    pub fn get(&self, shard_id: &str) -> Option<&ShardInfo> {
        self.position(shard_id).map(|i| &self.shards[i])
    }

    /// The index of a shard in [`ShardMap::shards`].
    pub fn position(&self, shard_id: &str) -> Option<usize> {
        self.shards
            .binary_search_by(|s| s.shard_id.as_str().cmp(shard_id))
            .ok()
    }
}

/// Reads every page of `ListShards` for a stream.
pub async fn list_shards(
    client: &Client,
    stream: &str,
) -> Result<ShardMap, aws_sdk_kinesis::Error> {
    let mut shards = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        // With a NextToken the stream name must be left out.
        let request = match &next_token {
            Some(token) => client.list_shards().next_token(token),
            None => client.list_shards().stream_name(stream),
        };
        let page = request.send().await?;
        for shard in page.shards() {
            let range = shard.hash_key_range();
            let (Some(start), Some(end)) = (
                range.and_then(|r| r.starting_hash_key().parse::<u128>().ok()),
                range.and_then(|r| r.ending_hash_key().parse::<u128>().ok()),
            ) else {
                continue;
            };
            shards.push(ShardInfo {
                shard_id: shard.shard_id().to_string(),
                starting_hash_key: start,
                ending_hash_key: end,
                parent_shard_id: shard.parent_shard_id().map(str::to_string),
                open: shard
                    .sequence_number_range()
                    .and_then(|r| r.ending_sequence_number())
                    .is_none(),
            });
        }
        next_token = page.next_token().map(str::to_string);
        if next_token.is_none() {
            return Ok(ShardMap::new(shards));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn linear_scan(map: &ShardMap, key: HashKey) -> Option<&ShardInfo> {
        map.shards().iter().find(|s| s.open && s.contains(key))
    }

    #[test]
    fn closed_shards_are_listed_but_never_chosen() {
        let mut shards = ShardMap::even_split(2).shards().to_vec();
        shards.push(ShardInfo {
            shard_id: "shardId-000000000009".into(),
            starting_hash_key: 0,
            ending_hash_key: u128::MAX,
            parent_shard_id: None,
            open: false,
        });
        let map = ShardMap::new(shards);
        assert_eq!(map.shards().len(), 3);
        assert_eq!(map.open_count(), 2);
        assert_eq!(
            map.shard_for(HashKey(0)).unwrap().shard_id,
            "shardId-000000000000"
        );
        assert_eq!(
            map.shard_for(HashKey(u128::MAX)).unwrap().shard_id,
            "shardId-000000000001"
        );
    }

    #[test]
    fn shares_of_an_even_split_sum_to_one() {
        let map = ShardMap::even_split(4);
        let total: f64 = map.open_shards().map(ShardInfo::share_of_key_space).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    proptest! {
        #[test]
        fn shard_for_agrees_with_a_linear_scan(n in 1u32..70, key: u128, holes in proptest::collection::vec(any::<bool>(), 70)) {
            // Close some shards so the open ranges have gaps.
            let shards: Vec<ShardInfo> = ShardMap::even_split(n).shards().iter().enumerate()
                .map(|(i, s)| ShardInfo { open: !holes[i], ..s.clone() }).collect();
            let map = ShardMap::new(shards);
            let expected = linear_scan(&map, HashKey(key)).map(|s| s.shard_id.clone());
            prop_assert_eq!(map.shard_for(HashKey(key)).map(|s| s.shard_id.clone()), expected);
        }

        #[test]
        fn an_even_split_covers_every_key(n in 1u32..500, key: u128) {
            prop_assert!(ShardMap::even_split(n).shard_for(HashKey(key)).is_some());
        }
    }
}
