//! Composing what to send: record payloads (templates, fixed sizes, lines of a file, a literal),
//! partition-key strategies and rate shapes, put together by [`Composer`].

/// A fresh seed for a run's random keys and data: at most 2^53 - 1, so that it survives JSON
/// tools that read numbers as doubles (jq, JavaScript) and `--seed` can repeat the run.
pub fn fresh_seed() -> u64 {
    rand::random::<u64>() >> 11
}

pub mod builtin;
pub mod keys;
pub mod lines;
pub mod payload;
pub mod rate;
pub mod template;

use crate::kinesis::hash_key::HashKey;
use crate::kinesis::shard_map::ShardMap;
use crate::producer::record::NewRecord;
use keys::{KeyPicker, PickError};
use lines::LineFeed;
use payload::Payloads;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use template::{RenderContext, Template};

/// Where record data comes from.
pub enum Source {
    /// Fixed-size payloads that start with the record's number.
    Sized(Payloads),
    Template(Template),
    /// One record per line (without its line ending), until the input ends.
    Lines(LineFeed),
    /// The same bytes every time.
    Literal(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(transparent)]
    Key(#[from] PickError),
    #[error("reading lines: {0}")]
    Read(#[from] std::io::Error),
}

/// Makes records: data from a source, keys from a strategy, seeded for repeatable runs.
pub struct Composer {
    source: Source,
    keys: KeyPicker,
    rng: SmallRng,
    text: String,
}

impl Composer {
    pub fn new(source: Source, keys: KeyPicker, seed: u64) -> Composer {
        Composer {
            source,
            keys,
            rng: SmallRng::seed_from_u64(seed),
            text: String::new(),
        }
    }

    /// The line feed to wait on before `next`, when the data comes from lines.
    pub fn line_feed(&mut self) -> Option<&mut LineFeed> {
        match &mut self.source {
            Source::Lines(feed) => Some(feed),
            _ => None,
        }
    }

    /// Record `seq`, or `None` when the source has run out.
    pub fn next(&mut self, seq: u64, map: &ShardMap) -> Result<Option<NewRecord>, ComposeError> {
        let shard_first = matches!(&self.source, Source::Template(t) if t.uses_shard())
            && !self.keys.strategy().needs_record();
        let (data, (partition_key, explicit_hash_key)) = if shard_first {
            let key = self.keys.pick(seq, b"")?;
            let hash = key.1.unwrap_or_else(|| HashKey::of_partition_key(&key.0));
            let shard = map.shard_for(hash).map(|s| s.shard_id.as_str());
            let Source::Template(template) = &self.source else {
                unreachable!("checked")
            };
            template.render(RenderContext { seq, shard }, &mut self.rng, &mut self.text);
            (self.text.as_bytes().to_vec(), key)
        } else {
            let Some(data) = self.data(seq)? else {
                return Ok(None);
            };
            let key = self.keys.pick(seq, &data)?;
            (data, key)
        };
        Ok(Some(NewRecord {
            partition_key,
            explicit_hash_key,
            data: data.into(),
        }))
    }

    fn data(&mut self, seq: u64) -> Result<Option<Vec<u8>>, ComposeError> {
        Ok(Some(match &mut self.source {
            Source::Sized(payloads) => payloads.payload(seq),
            Source::Template(template) => {
                template.render(
                    RenderContext { seq, shard: None },
                    &mut self.rng,
                    &mut self.text,
                );
                self.text.as_bytes().to_vec()
            }
            Source::Lines(feed) => match feed.next_line() {
                Some(line) => line?,
                None => return Ok(None),
            },
            Source::Literal(bytes) => bytes.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn composer(source: Source, key: &str) -> (Composer, ShardMap) {
        let map = ShardMap::even_split(4);
        let keys = KeyPicker::new(key.parse().unwrap(), &map, 1);
        (Composer::new(source, keys, 1), map)
    }

    #[test]
    fn shard_placeholders_name_the_shard_the_key_goes_to() {
        let template = Template::parse("{{shard}}").unwrap();
        let (mut c, map) = composer(Source::Template(template), "random");
        for seq in 0..50 {
            let r = c.next(seq, &map).unwrap().unwrap();
            let shard = map
                .shard_for(HashKey::of_partition_key(&r.partition_key))
                .unwrap();
            assert_eq!(r.data, shard.shard_id.as_bytes());
        }
    }

    #[test]
    fn field_keys_read_the_rendered_record() {
        let template = Template::parse(r#"{"user":"u{{seq}}"}"#).unwrap();
        let (mut c, map) = composer(Source::Template(template), "field:/user");
        assert_eq!(c.next(7, &map).unwrap().unwrap().partition_key, "u7");
    }

    #[test]
    fn lines_run_out_and_lose_their_endings() {
        let input = std::io::Cursor::new(b"one\r\ntwo\nthree".to_vec());
        let (mut c, map) = composer(Source::Lines(LineFeed::spawn(Box::new(input))), "seq");
        let lines: Vec<_> = (0..4)
            .map_while(|i| c.next(i, &map).unwrap())
            .map(|r| r.data)
            .collect();
        assert_eq!(lines, vec!["one", "two", "three"]);
    }
}
