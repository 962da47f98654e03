//! The workbench's sending task: composes records as the send plan says (source, key strategy,
//! rate shape, bursts) and hands them to the producer without ever blocking on it.
//!
//! It composes one record ahead, so the composer pane shows the record that really goes next,
//! and notes every key it sends in the key log.

use crate::compose::builtin::TEMPLATES;
use crate::compose::keys::KeyPicker;
use crate::compose::payload::Payloads;
use crate::compose::rate::RateShape;
use crate::compose::template::Template;
use crate::compose::{Composer, Source};
use crate::kinesis::hash_key::HashKey;
use crate::kinesis::shard_map::ShardMap;
use crate::producer::record::NewRecord;
use crate::producer::{Producer, PutError};
use crate::tui::app::{Msg, SendPlan};
use crate::tui::keylog::{KeyLog, Preview};
use crate::tui::pane::composer::SourceChoice;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How often the task wakes to send what is due.
const STEP: Duration = Duration::from_millis(10);
/// Most records one wake-up sends at `max` rate (backpressure stops it sooner).
const MAX_PER_STEP: u64 = 50_000;
/// The longest preview kept of a record's data, in characters.
const PREVIEW_CHARS: usize = 2_000;

fn source_of(choice: &SourceChoice, seed: u64) -> Result<Source, String> {
    let text = match choice {
        SourceChoice::Sized(n) => return Ok(Source::Sized(Payloads::new(*n, seed))),
        SourceChoice::Builtin(i) => TEMPLATES[*i].1,
        SourceChoice::Custom { text, .. } => text,
    };
    Template::parse(text.trim_end())
        .map(Source::Template)
        .map_err(|e| format!("{}: {e}", choice.label()))
}

fn preview(record: &NewRecord) -> Preview {
    Preview {
        partition_key: record.partition_key.clone(),
        text: String::from_utf8_lossy(&record.data)
            .chars()
            .take(PREVIEW_CHARS)
            .collect(),
        bytes: record.partition_key.len() + record.data.len(),
    }
}

/// The state of one plan's composing: rebuilt when the source, the strategy or the shard map
/// changes (round robin follows the open shards).
struct Composing {
    composer: Composer,
    map: Arc<ShardMap>,
    next: Option<NewRecord>,
    seq: u64,
}

impl Composing {
    /// Composing from record `seq` on: seeded by the session's seed and `seq`, so that a
    /// rebuilt composer goes on with new keys and data instead of repeating the first ones.
    fn new(
        plan: &SendPlan,
        producer: &Producer,
        seq: u64,
        session_seed: u64,
    ) -> Result<Composing, String> {
        let map = producer.shard_map();
        let seed = session_seed.wrapping_add(seq);
        let keys = KeyPicker::new(plan.strategy.clone(), &map, seed);
        Ok(Composing {
            composer: Composer::new(source_of(&plan.source, seed)?, keys, seed),
            map,
            next: None,
            seq,
        })
    }

    /// Moves on past the record that went (or was refused).
    fn advance(&mut self) {
        self.next = None;
        self.seq += 1;
    }

    /// The record that goes next, composed if need be.
    fn peek(&mut self, producer: &Producer) -> Result<&NewRecord, String> {
        if self.next.is_none() {
            let record = self
                .composer
                .next(self.seq, &producer.shard_map())
                .map_err(|e| e.to_string())?
                .ok_or("the source has run out")?;
            self.next = Some(record);
        }
        Ok(self.next.as_ref().expect("composed"))
    }
}

/// Where the steady rate stands: records sent since the shape (re)started.
struct Pace {
    shape: RateShape,
    start: Instant,
    sent: u64,
}

impl Pace {
    fn new(shape: RateShape) -> Pace {
        Pace {
            shape,
            start: Instant::now(),
            sent: 0,
        }
    }

    /// Records due now. Debt older than a second is forgiven: after backpressure the rate
    /// resumes rather than bursting to catch up.
    fn due(&mut self, now: Instant) -> u64 {
        if self.shape == RateShape::Max {
            return MAX_PER_STEP;
        }
        let t = now.duration_since(self.start).as_secs_f64();
        let by_now = self.shape.records_by(t).floor() as u64;
        let allowance = self.shape.rate_at(t).max(1.0).ceil() as u64;
        if by_now > self.sent + allowance {
            self.sent = by_now - allowance;
        }
        by_now.saturating_sub(self.sent)
    }
}

/// Sends as the plan says until the plan's sender (the UI) goes away.
pub async fn run(
    producer: Arc<Producer>,
    mut plan: watch::Receiver<SendPlan>,
    log: Arc<Mutex<KeyLog>>,
    inbox: mpsc::UnboundedSender<Msg>,
    seed: u64,
) {
    let mut current = plan.borrow().clone();
    let mut composing: Option<Composing> = None;
    let mut pace = Pace::new(current.shape.clone());
    let mut extra_sent = 0;
    // The plan could not be composed: wait for another.
    let mut stopped = false;
    let mut tick = tokio::time::interval(STEP);
    loop {
        let idle = !current.sending && current.extra <= extra_sent && composing.is_some();
        if idle || stopped {
            // Nothing to send: sleep until the plan changes.
            if plan.changed().await.is_err() {
                return;
            }
            stopped = false;
        } else {
            tick.tick().await;
        }
        if plan.has_changed().is_err() {
            return;
        }
        let next = plan.borrow_and_update().clone();
        // Why the plan cannot go on, if it cannot (a record that cannot be composed or sent).
        let mut why_stop: Option<String> = None;
        let rebuild = match &composing {
            None => true,
            Some(c) => {
                next.source != current.source
                    || next.strategy != current.strategy
                    || !Arc::ptr_eq(&c.map, &producer.shard_map())
            }
        };
        if rebuild {
            let seq = composing.as_ref().map_or(0, |c| c.seq);
            composing = Composing::new(&next, &producer, seq, seed)
                .map_err(|e| why_stop = Some(e))
                .ok();
        }
        if next.shape != current.shape || (next.sending && !current.sending) {
            pace = Pace::new(next.shape.clone());
        }
        if let Some(c) = composing.as_mut() {
            let now = Instant::now();
            let steady = if next.sending { pace.due(now) } else { 0 };
            let extra = next.extra.saturating_sub(extra_sent);
            let mut log = log.lock().expect("key log");
            for i in 0..steady + extra {
                let record = match c.peek(&producer) {
                    Ok(record) => record.clone(),
                    Err(e) => {
                        why_stop = Some(e);
                        break;
                    }
                };
                let hash = record
                    .explicit_hash_key
                    .unwrap_or_else(|| HashKey::of_partition_key(&record.partition_key));
                let key = record.partition_key.clone();
                let bytes = record.billed_bytes() as u64;
                match producer.try_put(record) {
                    Ok(_) => log.sent(&key, hash, c.map.shard_for(hash), bytes, now),
                    Err(PutError::Full(_)) => break,
                    // Refused by the producer (too large, a bad key): it never counted.
                    Err(e) => why_stop = Some(e.to_string()),
                }
                c.advance();
                if why_stop.is_some() {
                    break;
                }
                if i < extra {
                    extra_sent += 1;
                } else {
                    pace.sent += 1;
                }
            }
            log.set_next(c.peek(&producer).ok().map(preview));
        }
        // Sending stops, once, saying why; the records asked for at once are dropped.
        if let Some(why) = why_stop {
            let _ = inbox.send(Msg::SendStopped(why));
            extra_sent = next.extra;
            stopped = true;
        }
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_follows_the_shape_and_forgives_old_debt() {
        let mut pace = Pace::new(RateShape::Constant(100.0));
        let start = pace.start;
        assert_eq!(pace.due(start + Duration::from_millis(500)), 50);
        pace.sent = 50;
        assert_eq!(pace.due(start + Duration::from_millis(600)), 10);
        // Nothing sent for ten seconds (backpressure): at most a second's worth is due.
        assert_eq!(pace.due(start + Duration::from_secs(10)), 100);
        assert_eq!(Pace::new(RateShape::Max).due(start), MAX_PER_STEP);
    }

    #[test]
    fn every_source_choice_builds() {
        for choice in [
            SourceChoice::Sized(10),
            SourceChoice::Builtin(TEMPLATES.len() - 1),
            SourceChoice::Custom {
                name: "t".into(),
                text: "{{seq}}\n".into(),
            },
        ] {
            assert!(source_of(&choice, 1).is_ok(), "{choice:?}");
        }
        let bad = SourceChoice::Custom {
            name: "t".into(),
            text: "{{nope}}".into(),
        };
        assert!(source_of(&bad, 1).err().unwrap().starts_with("template t:"));
    }
}
