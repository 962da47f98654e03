//! The producer's core as a synchronous state machine: route, aggregate, limit, collect, and turn
//! answers into outcomes or retries.
//!
//! It does no I/O and owns no clock: the async driver (`producer::Producer`) feeds it records,
//! the time, answers and shard maps, and sends the batches it hands out. That keeps every rule
//! testable without a server and lets the benchmark drive the core directly.

use crate::kinesis::hash_key::{HashKey, MAX_PARTITION_KEY_CHARS};
use crate::kinesis::kpl_format::{Aggregator, AGGREGATE_PARTITION_KEY};
use crate::kinesis::shard_map::ShardMap;
use crate::producer::collector::Collector;
use crate::producer::config::ProducerConfig;
use crate::producer::limiter::ShardLimiter;
use crate::producer::metrics::{Counter, ProducerMetrics, ShardMetrics};
use crate::producer::outcome::{Delivered, Failure, FailureReason, Outcome};
use crate::producer::record::{KinesisRecord, UserRecord};
use crate::producer::retry::{backoff, AttemptError, ErrorKind};
use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// One Kinesis record's result within a PutRecords answer.
#[derive(Debug, Clone)]
pub enum EntryResult {
    Ok {
        shard_id: String,
        sequence_number: String,
    },
    Err(AttemptError),
}

/// A batch's answer: one result per entry, or an error for the whole request.
pub type BatchResult = Result<Vec<EntryResult>, AttemptError>;

struct ShardState {
    id: Arc<str>,
    aggregator: Aggregator,
    members: Vec<UserRecord>,
    deadline: Option<Instant>,
    queue: VecDeque<KinesisRecord>,
    limiter: ShardLimiter,
    /// While the limiter holds the queue's head, when to look again.
    blocked_until: Option<Instant>,
    metrics: Arc<ShardMetrics>,
}

/// A Kinesis record the service wrote, with where and when.
struct Landed {
    record: KinesisRecord,
    shard_id: String,
    sequence: String,
    answered: Instant,
}

/// A record waiting out its backoff.
struct Waiting {
    due: Instant,
    record: UserRecord,
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.due == other.due
    }
}
impl Eq for Waiting {}
impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.due.cmp(&other.due)
    }
}

pub struct Pipeline {
    config: ProducerConfig,
    map: Arc<ShardMap>,
    shards: Vec<ShardState>,
    /// Records whose hash key no open shard in the map covers, waiting for a new map.
    unrouted: Vec<UserRecord>,
    /// Aggregates written to a shard the map does not list, waiting for a map that does.
    unjudged: Vec<Landed>,
    collector: Collector,
    ready: VecDeque<Vec<KinesisRecord>>,
    retries: BinaryHeap<Reverse<Waiting>>,
    metrics: Arc<ProducerMetrics>,
    rng: SmallRng,
    outstanding: usize,
    flushing: bool,
    map_stale: bool,
    limit_rates: bool,
    /// The next open shard a record goes to when the stream places records itself.
    auto_cursor: usize,
}

impl Pipeline {
    pub fn new(config: ProducerConfig, map: Arc<ShardMap>, metrics: Arc<ProducerMetrics>) -> Self {
        let collector = Collector::new(config.collection_max_count, config.max_request_bytes);
        let mut pipeline = Pipeline {
            config,
            map: Arc::new(ShardMap::default()),
            shards: Vec::new(),
            unrouted: Vec::new(),
            unjudged: Vec::new(),
            collector,
            ready: VecDeque::new(),
            retries: BinaryHeap::new(),
            metrics,
            rng: SmallRng::seed_from_u64(0x6b7762),
            outstanding: 0,
            flushing: false,
            map_stale: false,
            limit_rates: true,
            auto_cursor: 0,
        };
        pipeline.set_map(map, Instant::now());
        pipeline
    }

    /// Turns per-shard rate limiting off (for measuring the core alone).
    pub fn without_rate_limits(mut self) -> Self {
        self.limit_rates = false;
        self
    }

    /// User records accepted and not yet resolved.
    pub fn metrics(&self) -> &Arc<ProducerMetrics> {
        &self.metrics
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Whether the shard map has been found out of date since the last `set_map`.
    pub fn map_is_stale(&self) -> bool {
        self.map_stale
    }

    /// Takes new settings (see `Producer::tune`); each shard's limiter keeps its throttling state.
    pub fn set_config(&mut self, config: ProducerConfig) {
        // A new request size (PutRecord's one record, or PutRecords' again) starts a new batch:
        // the one being collected goes as it was collected.
        if config.collection_max_count != self.config.collection_max_count {
            if !self.collector.is_empty() {
                self.ready.push_back(self.collector.take());
            }
            self.collector = Collector::new(config.collection_max_count, config.max_request_bytes);
        }
        for shard in &mut self.shards {
            shard
                .limiter
                .set_rate_limit_percent(config.rate_limit_percent);
        }
        self.config = config;
    }

    /// Sends everything buffered at once, ignoring buffering time, until `set_flushing(false)`.
    pub fn set_flushing(&mut self, flushing: bool) {
        self.flushing = flushing;
    }

    /// Installs a new shard map, keeping each surviving shard's state and re-routing records
    /// buffered for shards that are gone or closed.
    pub fn set_map(&mut self, map: Arc<ShardMap>, now: Instant) {
        let mut old: HashMap<Arc<str>, ShardState> =
            self.shards.drain(..).map(|s| (s.id.clone(), s)).collect();
        let mut reroute = std::mem::take(&mut self.unrouted);
        let mut shards = Vec::with_capacity(map.shards().len());
        for info in map.shards() {
            match old.remove(info.shard_id.as_str()) {
                Some(state) if info.open => shards.push(state),
                other => {
                    if let Some(mut closed) = other {
                        reroute.extend(self.drain_shard(&mut closed));
                    }
                    shards.push(self.new_shard_state(&info.shard_id, now));
                }
            }
        }
        for (_, mut gone) in old {
            reroute.extend(self.drain_shard(&mut gone));
        }
        self.shards = shards;
        self.map = map;
        self.map_stale = false;
        for record in reroute {
            self.route(record, now);
        }
        for landed in std::mem::take(&mut self.unjudged) {
            self.judge(landed, now);
        }
    }

    /// Takes every user record buffered for a shard; they stop being pending there.
    fn drain_shard(&self, shard: &mut ShardState) -> Vec<UserRecord> {
        shard.aggregator.clear();
        shard.deadline = None;
        let mut held = std::mem::take(&mut shard.members);
        held.extend(shard.queue.drain(..).flat_map(|k| k.members));
        self.metrics
            .add_pending(&shard.metrics, -(held.len() as i64));
        held
    }

    fn new_shard_state(&self, shard_id: &str, now: Instant) -> ShardState {
        ShardState {
            id: shard_id.into(),
            aggregator: Aggregator::new(),
            members: Vec::new(),
            deadline: None,
            queue: VecDeque::new(),
            limiter: ShardLimiter::new(self.config.rate_limit_percent, now),
            blocked_until: None,
            metrics: self.metrics.shard(shard_id),
        }
    }

    /// Accepts a user record and routes it to its predicted shard.
    pub fn add(&mut self, record: UserRecord, now: Instant) {
        self.outstanding += 1;
        self.route(record, now);
    }

    /// Puts a record (new, retried or re-routed) into its predicted shard's buffers.
    fn route(&mut self, record: UserRecord, now: Instant) {
        let index = if self.config.auto_distribution {
            self.next_auto_shard()
        } else {
            self.map.index_for(record.hash_key)
        };
        let Some(index) = index else {
            self.map_stale = true;
            self.unrouted.push(record);
            return;
        };
        let config = &self.config;
        let shard = &mut self.shards[index];
        self.metrics.add_pending(&shard.metrics, 1);
        // A record may wait the buffering time from when it arrived (or from now, for a retry) to
        // gather company, aggregated or not; never past its TTL.
        let start = if record.attempts == 0 {
            record.arrived
        } else {
            now
        };
        let expires = record.arrived + config.record_ttl;
        let deadline = (start + config.max_buffered_time).min(expires);
        // The aggregate travels with the partition key "a", which counts against the record limit.
        let key_len = AGGREGATE_PARTITION_KEY.len();
        let alone = Aggregator::encoded_len_alone(
            &record.partition_key,
            record.explicit_hash_key,
            record.data.len(),
        );
        if !config.aggregation || alone + key_len > config.aggregation_max_bytes {
            enqueue(
                &mut shard.queue,
                plain(shard.id.clone(), record, deadline, expires),
            );
            return;
        }
        let would_be = shard.aggregator.encoded_len_with(
            &record.partition_key,
            record.explicit_hash_key,
            record.data.len(),
        );
        // An aggregate holds records with explicit hash keys or records without, never both:
        // the reference deaggregator (aws-kinesis-agg, common in Lambda consumers) reads a
        // missing explicit-hash-key index as 0 when the table is not empty.
        let mixes = shard.members.first().is_some_and(|first| {
            first.explicit_hash_key.is_some() != record.explicit_hash_key.is_some()
        });
        if !shard.members.is_empty()
            && (would_be + key_len > config.aggregation_max_bytes
                || shard.members.len() >= config.aggregation_max_count
                || mixes)
        {
            close_aggregate(shard, config);
        }
        shard.deadline = Some(shard.deadline.map_or(deadline, |d| d.min(deadline)));
        shard.aggregator.add(
            &record.partition_key,
            record.explicit_hash_key,
            &record.data,
        );
        shard.members.push(record);
    }

    /// The open shards in turn, for a stream that places records itself: it spreads them
    /// evenly, so each shard's limiter and aggregates see an even share.
    fn next_auto_shard(&mut self) -> Option<usize> {
        let open: Vec<usize> = (0..self.shards.len())
            .filter(|i| self.map.shards()[*i].open)
            .collect();
        let index = *open.get(self.auto_cursor % open.len().max(1))?;
        self.auto_cursor = self.auto_cursor.wrapping_add(1);
        Some(index)
    }

    /// Moves everything that is due along and returns the batches ready to send, at most `room`.
    /// Records whose TTL has run out on the way fail as expired; no attempt starts for them.
    pub fn poll(&mut self, now: Instant, room: usize) -> Vec<Vec<KinesisRecord>> {
        self.expire_unrouted(now);
        self.expire_unjudged(now);
        while self.retries.peek().is_some_and(|w| w.0.due <= now) {
            let Reverse(Waiting { record, .. }) = self.retries.pop().expect("peeked");
            if now >= record.arrived + self.config.record_ttl {
                let metrics = self.metrics_for_key(record.hash_key);
                self.fail_expired(record, "waited for a retry", &metrics, now);
            } else {
                self.route(record, now);
            }
        }
        for index in 0..self.shards.len() {
            let shard = &mut self.shards[index];
            if !shard.members.is_empty()
                && (self.flushing || shard.deadline.is_some_and(|d| d <= now))
            {
                close_aggregate(shard, &self.config);
            }
            self.expire_queued(index, now);
            let shard = &mut self.shards[index];
            if shard.blocked_until.is_some_and(|t| t > now) {
                continue;
            }
            shard.blocked_until = None;
            while let Some(head) = shard.queue.front() {
                if self.limit_rates {
                    if let Err(wait) = shard.limiter.try_acquire(head.billed_bytes(), now) {
                        shard.blocked_until = Some(now + wait);
                        break;
                    }
                }
                let record = shard.queue.pop_front().expect("front");
                self.ready.extend(self.collector.push(record));
            }
        }
        if !self.collector.is_empty()
            && (self.flushing || self.collector.deadline().is_some_and(|d| d <= now))
        {
            self.ready.push_back(self.collector.take());
        }
        let mut out = Vec::with_capacity(room.min(self.ready.len()));
        while out.len() < room {
            let Some(batch) = self.ready.pop_front() else {
                break;
            };
            let live: Vec<KinesisRecord> = batch
                .into_iter()
                .filter_map(|record| {
                    self.without_expired(record, "waited for a free request slot", now)
                })
                .collect();
            if !live.is_empty() {
                out.push(live);
            }
        }
        out
    }

    /// Fails the records at the front of a shard's queue whose TTL has run out while they waited
    /// for the shard's write limit (the queue is kept in order of expiry).
    fn expire_queued(&mut self, index: usize, now: Instant) {
        while self.shards[index]
            .queue
            .front()
            .is_some_and(|head| head.expires <= now)
        {
            let head = self.shards[index].queue.pop_front().expect("front");
            let why = format!("waited for {}'s write limit", head.predicted_shard);
            let kept = self.without_expired(head, &why, now);
            debug_assert!(kept.is_none(), "an expired record was kept");
        }
    }

    /// Passes a Kinesis record on when none of its members has expired by `now`. Otherwise fails
    /// the expired members (their last error, or `waiting`) and routes the others again.
    fn without_expired(
        &mut self,
        record: KinesisRecord,
        waiting: &str,
        now: Instant,
    ) -> Option<KinesisRecord> {
        if record.expires > now {
            return Some(record);
        }
        // A record whose buffering time ran to its expiry was waiting to fill a request, wherever
        // it was found.
        let waiting = if record.deadline >= record.expires {
            "waited to fill a request: the buffering time (--max-buffered-ms) is longer than what was left of its TTL"
        } else {
            waiting
        };
        let metrics = self.shard_metrics(&record.predicted_shard);
        self.metrics
            .add_pending(&metrics, -(record.members.len() as i64));
        let ttl = self.config.record_ttl;
        for member in record.members {
            if now >= member.arrived + ttl {
                self.fail_expired(member, waiting, &metrics, now);
            } else {
                self.route(member, now);
            }
        }
        None
    }

    /// Resolves a record whose TTL has run out before it was delivered.
    fn fail_expired(
        &mut self,
        member: UserRecord,
        waiting: &str,
        shard: &Arc<ShardMetrics>,
        now: Instant,
    ) {
        let last_error = member
            .last_error
            .clone()
            .unwrap_or_else(|| waiting.to_string());
        self.fail_counted(member, FailureReason::Expired { last_error }, shard, now);
    }

    /// Fails records that waited for a shard map covering them until their TTL ran out.
    fn expire_unrouted(&mut self, now: Instant) {
        let ttl = self.config.record_ttl;
        if !self
            .unrouted
            .iter()
            .any(|r| now.saturating_duration_since(r.arrived) >= ttl)
        {
            return;
        }
        let (expired, waiting) = std::mem::take(&mut self.unrouted)
            .into_iter()
            .partition(|r| now.saturating_duration_since(r.arrived) >= ttl);
        self.unrouted = waiting;
        for record in expired {
            self.outstanding -= 1;
            let last_error = "no open shard in the shard map covers its hash key".to_string();
            self.fail(record, FailureReason::Expired { last_error }, now);
        }
    }

    /// The next time `poll` has something to do, if any.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let shards = self.shards.iter().flat_map(|s| {
            let blocked = if s.queue.is_empty() {
                None
            } else {
                s.blocked_until
            };
            let head_expires = s.queue.front().map(|k| k.expires);
            [
                s.deadline.filter(|_| !s.members.is_empty()),
                blocked,
                head_expires,
            ]
        });
        let ttl = self.config.record_ttl;
        let unrouted_expiry = self
            .unrouted
            .iter()
            .chain(self.unjudged.iter().flat_map(|l| &l.record.members))
            .map(|r| r.arrived + ttl)
            .min();
        shards
            .chain([
                self.collector.deadline(),
                self.retries.peek().map(|w| w.0.due),
                unrouted_expiry,
            ])
            .flatten()
            .min()
    }

    /// Whether `poll` has batches waiting for room to send.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Turns a batch's answer into outcomes, retries and metrics.
    pub fn on_result(&mut self, batch: Vec<KinesisRecord>, result: BatchResult, now: Instant) {
        let result = result.and_then(|entries| {
            if entries.len() == batch.len() {
                Ok(entries)
            } else {
                Err(AttemptError::transient(
                    "MalformedResponse",
                    format!("{} results for {} records", entries.len(), batch.len()),
                ))
            }
        });
        match result {
            Ok(entries) => {
                for (record, entry) in batch.into_iter().zip(entries) {
                    match entry {
                        EntryResult::Ok {
                            shard_id,
                            sequence_number,
                        } => self.on_delivered(record, shard_id, sequence_number, now),
                        EntryResult::Err(error) => self.on_failed(record, &error, now),
                    }
                }
            }
            // One bad entry can make the service refuse the whole request: halve the batch
            // until the refusal is down to the entries that cause it, and send the rest.
            Err(error) if refuses_entries(&error) && batch.len() > 1 => {
                self.metrics.count_error(&error.code, &error.message);
                let mut first = batch;
                let second = first.split_off(first.len() / 2);
                for mut half in [second, first] {
                    for member in half.iter_mut().flat_map(|k| k.members.iter_mut()) {
                        member.attempts += 1;
                    }
                    self.ready.push_front(half);
                }
            }
            Err(error) => {
                for record in batch {
                    self.on_failed(record, &error, now);
                }
            }
        }
    }

    /// A shard's counters: from its state when the map knows the shard (no lock taken), else
    /// from the registry.
    fn shard_metrics(&self, shard_id: &str) -> Arc<ShardMetrics> {
        match self.map.position(shard_id) {
            Some(i) => Arc::clone(&self.shards[i].metrics),
            None => self.metrics.shard(shard_id),
        }
    }

    /// The counters of the shard the map predicts for a hash key (a registry entry of its own
    /// when no open shard covers it).
    fn metrics_for_key(&self, key: HashKey) -> Arc<ShardMetrics> {
        match self.map.index_for(key) {
            Some(i) => Arc::clone(&self.shards[i].metrics),
            None => self.metrics.shard("(no open shard)"),
        }
    }

    fn on_delivered(
        &mut self,
        mut record: KinesisRecord,
        shard_id: String,
        sequence: String,
        now: Instant,
    ) {
        // Where the stream places records itself, landing elsewhere than predicted is normal.
        if shard_id != *record.predicted_shard && !self.config.auto_distribution {
            self.map_stale = true;
        }
        let metrics = match self.map.position(&shard_id) {
            Some(i) => {
                let shard = &mut self.shards[i];
                shard.limiter.on_accepted(record.billed_bytes(), now);
                Arc::clone(&shard.metrics)
            }
            None => self.metrics.shard(&shard_id),
        };
        let predicted = self.shard_metrics(&record.predicted_shard);
        self.metrics.add(&metrics, Counter::KinesisRecords, 1, now);
        self.metrics
            .add(&metrics, Counter::Bytes, record.billed_bytes() as u64, now);
        self.metrics
            .add_pending(&predicted, -(record.members.len() as i64));
        for member in &mut record.members {
            member.attempts += 1;
        }
        self.judge(
            Landed {
                record,
                shard_id,
                sequence,
                answered: now,
            },
            now,
        );
    }

    /// Decides what a written Kinesis record means for its user records. A plain record is where
    /// Kinesis put it by its own key. An aggregate is only good where the shard it landed on
    /// covers every sub-record: the KCL drops the whole aggregate when any sub-record lies
    /// outside the shard it was read from, so then every one is sent again. Where the landing
    /// shard is not in the map yet, the verdict waits for a map that has it.
    fn judge(&mut self, landed: Landed, now: Instant) {
        let Landed {
            record,
            shard_id,
            sequence,
            answered,
        } = landed;
        let aggregated = record.is_aggregate();
        let placed_by_stream = self.config.auto_distribution;
        if aggregated && shard_id != *record.predicted_shard && !placed_by_stream {
            let map = Arc::clone(&self.map);
            let Some(shard) = map.get(&shard_id) else {
                self.map_stale = true;
                self.unjudged.push(Landed {
                    record,
                    shard_id,
                    sequence,
                    answered,
                });
                return;
            };
            if !record.members.iter().all(|m| shard.contains(m.hash_key)) {
                let predicted = self.shard_metrics(&record.predicted_shard);
                let error = AttemptError::transient(
                    "WrongShard",
                    format!(
                        "aggregate landed on {shard_id}, which does not cover all of its records"
                    ),
                );
                for member in record.members {
                    self.retry_or_fail(member, &error, &predicted, now);
                }
                return;
            }
        }
        let metrics = self.shard_metrics(&shard_id);
        for (i, member) in record.members.into_iter().enumerate() {
            self.outstanding -= 1;
            let latency = answered.saturating_duration_since(member.arrived);
            self.metrics.add(&metrics, Counter::UserRecords, 1, now);
            self.metrics.record_latency(&metrics, latency, now);
            let outcome = Outcome::Delivered(Delivered {
                shard_id: shard_id.clone(),
                sequence_number: sequence.clone(),
                sub_sequence_number: if aggregated { i as u64 } else { 0 },
                aggregated,
                attempts: member.attempts,
                latency,
            });
            member.resolve(outcome);
        }
    }

    /// Fails the records of written aggregates whose landing shard no map has listed within
    /// their TTL: they are in the stream, but whether a KCL consumer sees them is unknown.
    fn expire_unjudged(&mut self, now: Instant) {
        let ttl = self.config.record_ttl;
        let expired = |l: &Landed| l.record.members.iter().any(|m| now >= m.arrived + ttl);
        if !self.unjudged.iter().any(expired) {
            return;
        }
        let (gone, waiting): (Vec<Landed>, Vec<Landed>) = std::mem::take(&mut self.unjudged)
            .into_iter()
            .partition(expired);
        self.unjudged = waiting;
        for landed in gone {
            let metrics = self.shard_metrics(&landed.record.predicted_shard);
            let reason = FailureReason::Expired {
                last_error: format!(
                    "written in an aggregate to {}, a shard the shard map has not listed: a KCL consumer may or may not see it",
                    landed.shard_id
                ),
            };
            for member in landed.record.members {
                self.fail_counted(member, reason.clone(), &metrics, now);
            }
        }
    }

    fn on_failed(&mut self, record: KinesisRecord, error: &AttemptError, now: Instant) {
        tracing::debug!(
            shard = &*record.predicted_shard,
            code = error.code,
            message = error.message,
            records = record.members.len(),
            "attempt failed"
        );
        let metrics = self.shard_metrics(&record.predicted_shard);
        if error.kind == ErrorKind::Throttled {
            self.metrics.add(&metrics, Counter::Throttled, 1, now);
            if let Some(i) = self.map.position(&record.predicted_shard) {
                self.shards[i].limiter.on_throttled(now);
            }
        } else {
            self.metrics.add(&metrics, Counter::Errors, 1, now);
            self.metrics.count_error(&error.code, &error.message);
        }
        self.metrics
            .add_pending(&metrics, -(record.members.len() as i64));
        for mut member in record.members {
            member.attempts += 1;
            self.retry_or_fail(member, error, &metrics, now);
        }
    }

    /// Schedules another attempt, or resolves the record as failed when retrying cannot help or
    /// its TTL is spent. A record waiting for its retry still counts as outstanding.
    fn retry_or_fail(
        &mut self,
        mut member: UserRecord,
        error: &AttemptError,
        shard: &Arc<ShardMetrics>,
        now: Instant,
    ) {
        let reason = if error.kind == ErrorKind::Fatal {
            let mut message = error.message.clone();
            let (bytes, chars) = (
                member.partition_key.len(),
                member.partition_key.chars().count(),
            );
            if refuses_entries(error) && bytes > MAX_PARTITION_KEY_CHARS {
                message += &format!(
                    " (the partition key is {chars} characters but {bytes} bytes in UTF-8: AWS allows 256 characters; this target counts bytes)"
                );
            }
            Some(FailureReason::Rejected {
                code: error.code.clone(),
                message,
            })
        } else if now.saturating_duration_since(member.arrived) >= self.config.record_ttl {
            Some(FailureReason::Expired {
                last_error: error.summary(),
            })
        } else {
            None
        };
        if let Some(reason) = reason {
            self.fail_counted(member, reason, shard, now);
            return;
        }
        member.last_error = Some(error.summary());
        self.metrics.add(shard, Counter::Retries, 1, now);
        let delay = backoff(
            member.attempts,
            self.config.retry_base_delay,
            self.config.retry_max_delay,
            &mut self.rng,
        );
        // Never wait past the TTL: a record that cannot make it is reported when it expires.
        let due = (now + delay).min(member.arrived + self.config.record_ttl);
        self.retries.push(Reverse(Waiting {
            due,
            record: member,
        }));
    }

    /// Resolves a record as failed, counting it on its shard.
    fn fail_counted(
        &mut self,
        member: UserRecord,
        reason: FailureReason,
        shard: &Arc<ShardMetrics>,
        now: Instant,
    ) {
        self.outstanding -= 1;
        self.metrics.add(shard, Counter::Failed, 1, now);
        self.fail(member, reason, now);
    }

    fn fail(&self, member: UserRecord, reason: FailureReason, now: Instant) {
        self.metrics.count_failure(reason.label());
        let outcome = Outcome::Failed(Failure {
            reason,
            attempts: member.attempts,
            latency: now.saturating_duration_since(member.arrived),
        });
        member.resolve(outcome);
    }

    /// Fails the records of a batch that will never be answered (in flight at shutdown).
    pub fn abandon(&mut self, batch: Vec<KinesisRecord>, why: &str, now: Instant) -> usize {
        let mut count = 0;
        for record in batch {
            let metrics = self.shard_metrics(&record.predicted_shard);
            self.metrics
                .add_pending(&metrics, -(record.members.len() as i64));
            for member in record.members {
                count += 1;
                self.fail_counted(
                    member,
                    FailureReason::Shutdown(why.to_string()),
                    &metrics,
                    now,
                );
            }
        }
        count
    }

    /// Fails every record the pipeline still holds (not those in flight), for shutdown.
    pub fn fail_all(&mut self, why: &str, now: Instant) -> usize {
        let mut held: Vec<UserRecord> = std::mem::take(&mut self.unrouted);
        held.extend(self.retries.drain().map(|w| w.0.record));
        held.extend(
            std::mem::take(&mut self.unjudged)
                .into_iter()
                .flat_map(|l| l.record.members),
        );
        let mut shards = std::mem::take(&mut self.shards);
        for shard in &mut shards {
            held.extend(self.drain_shard(shard));
        }
        self.shards = shards;
        let batches: Vec<_> = self
            .ready
            .drain(..)
            .chain([self.collector.take()])
            .collect();
        for record in batches.into_iter().flatten() {
            let metrics = self.shard_metrics(&record.predicted_shard);
            self.metrics
                .add_pending(&metrics, -(record.members.len() as i64));
            held.extend(record.members);
        }
        let count = held.len();
        for member in held {
            self.outstanding -= 1;
            self.fail(member, FailureReason::Shutdown(why.to_string()), now);
        }
        count
    }
}

/// Whether a whole-request error may come from some of its entries alone (a key or a record the
/// target will not take), rather than from the stream or the account.
fn refuses_entries(error: &AttemptError) -> bool {
    matches!(
        error.code.as_str(),
        "ValidationException" | "InvalidArgumentException"
    )
}

fn plain(
    shard: Arc<str>,
    record: UserRecord,
    deadline: Instant,
    expires: Instant,
) -> KinesisRecord {
    KinesisRecord {
        predicted_shard: shard,
        partition_key: record.partition_key.clone(),
        explicit_hash_key: record.explicit_hash_key,
        data: record.data.clone(),
        members: vec![record],
        deadline,
        expires,
    }
}

/// Adds a Kinesis record to a shard's queue, which is kept in order of expiry so that expired
/// records are always at its front. New records go to the back; retried ones, older, go near
/// the front.
fn enqueue(queue: &mut VecDeque<KinesisRecord>, record: KinesisRecord) {
    if queue
        .back()
        .is_none_or(|last| last.expires <= record.expires)
    {
        queue.push_back(record);
    } else {
        let at = queue.partition_point(|queued| queued.expires <= record.expires);
        queue.insert(at, record);
    }
}

/// Closes a shard's open aggregate into its queue. One record goes out plain, with its own key.
fn close_aggregate(shard: &mut ShardState, config: &ProducerConfig) {
    let ttl = config.record_ttl;
    let deadline = shard.deadline.take().unwrap_or_else(Instant::now);
    // The next aggregate will likely hold as many records as this one.
    let capacity = shard.members.len();
    let mut members = std::mem::replace(&mut shard.members, Vec::with_capacity(capacity));
    let expires = members
        .iter()
        .map(|m| m.arrived)
        .min()
        .expect("an aggregate has members")
        + ttl;
    let record = if members.len() == 1 {
        shard.aggregator.clear();
        plain(
            shard.id.clone(),
            members.pop().expect("one member"),
            deadline,
            expires,
        )
    } else {
        let data = Bytes::from(shard.aggregator.finish());
        KinesisRecord {
            predicted_shard: shard.id.clone(),
            partition_key: AGGREGATE_PARTITION_KEY.to_string(),
            // Pinned to its shard by its first record's hash key, unless the stream places
            // records itself (and would ignore it).
            explicit_hash_key: (!config.auto_distribution)
                .then_some(HashKey(members[0].hash_key.0)),
            data,
            members,
            deadline,
            expires,
        }
    };
    enqueue(&mut shard.queue, record);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinesis::shard_map::ShardInfo;
    use crate::producer::config::{Api, Tuning};
    use crate::producer::record::NewRecord;
    use std::time::Duration;
    use tokio::sync::oneshot::{self, Receiver};

    const SEC: Duration = Duration::from_secs(1);

    fn pipeline(shards: u32, config: ProducerConfig) -> Pipeline {
        let map = Arc::new(ShardMap::even_split(shards));
        Pipeline::new(config, map, ProducerMetrics::new())
    }

    fn put(p: &mut Pipeline, key: &str, now: Instant) -> Receiver<Outcome> {
        let (reply, outcome) = oneshot::channel();
        p.add(
            UserRecord::new(NewRecord::new(key, &b"data"[..]), reply, now),
            now,
        );
        outcome
    }

    /// Keys whose hash keys land on shard `shard` of `n`.
    fn keys_on(shard: usize, n: u32, count: usize) -> Vec<String> {
        let map = ShardMap::even_split(n);
        (0..)
            .map(|i| format!("k{i}"))
            .filter(|k| map.index_for(HashKey::of_partition_key(k)) == Some(shard))
            .take(count)
            .collect()
    }

    fn ok_for(batch: &[KinesisRecord], shard_id: &str) -> BatchResult {
        Ok(batch
            .iter()
            .enumerate()
            .map(|(i, _)| EntryResult::Ok {
                shard_id: shard_id.to_string(),
                sequence_number: format!("{i}"),
            })
            .collect())
    }

    fn all(p: &mut Pipeline, now: Instant) -> Vec<KinesisRecord> {
        p.poll(now, usize::MAX).into_iter().flatten().collect()
    }

    /// A simple server for the pipeline: answers every batch at once, each entry by `answer`.
    fn drive(
        p: &mut Pipeline,
        from: Instant,
        until: Instant,
        step: Duration,
        mut answer: impl FnMut(&[KinesisRecord], Instant) -> BatchResult,
    ) {
        let ttl = p.config.record_ttl;
        let mut now = from;
        while now <= until {
            for batch in p.poll(now, usize::MAX) {
                for member in batch.iter().flat_map(|k| &k.members) {
                    assert!(
                        now < member.arrived + ttl,
                        "an attempt started {:?} after the record arrived (TTL {ttl:?})",
                        now - member.arrived
                    );
                }
                let result = answer(&batch, now);
                p.on_result(batch, result, now);
            }
            now += step;
        }
    }

    #[test]
    fn records_waiting_for_the_shard_limit_expire_at_their_ttl_and_are_never_sent_late() {
        let t0 = Instant::now();
        let config = ProducerConfig {
            aggregation: false,
            rate_limit_percent: 1.0, // 10 records/s
            record_ttl: SEC,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(1, config);
        let mut rx: Vec<_> = (0..100).map(|_| put(&mut p, "k", t0)).collect();
        let step = Duration::from_millis(10);
        drive(&mut p, t0, t0 + 2 * SEC, step, |batch, _| {
            ok_for(batch, "shardId-000000000000")
        });
        assert_eq!(p.outstanding(), 0);
        let outcomes: Vec<Outcome> = rx.iter_mut().map(|r| r.try_recv().unwrap()).collect();
        let delivered = outcomes.iter().filter(|o| o.is_delivered()).count();
        assert!((5..=20).contains(&delivered), "{delivered} delivered");
        for outcome in &outcomes {
            match outcome {
                Outcome::Delivered(d) => assert!(d.latency < SEC, "{d:?}"),
                Outcome::Failed(f) => {
                    assert_eq!(
                        f.reason,
                        FailureReason::Expired {
                            last_error: "waited for shardId-000000000000's write limit".into()
                        }
                    );
                    assert!(f.latency >= SEC && f.latency < SEC + step, "{f:?}");
                    assert_eq!(f.attempts, 0);
                }
            }
        }
    }

    #[test]
    fn a_retry_due_after_the_ttl_is_never_sent_and_expires_with_its_last_error() {
        let t0 = Instant::now();
        let config = ProducerConfig {
            record_ttl: SEC,
            retry_base_delay: 10 * SEC,
            retry_max_delay: 10 * SEC,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(1, config);
        let mut rx = put(&mut p, "k", t0);
        let throttled = AttemptError::new("ProvisionedThroughputExceededException", "slow down");
        drive(
            &mut p,
            t0,
            t0 + 2 * SEC,
            Duration::from_millis(10),
            |_, _| Ok(vec![EntryResult::Err(throttled.clone())]),
        );
        let Outcome::Failed(f) = rx.try_recv().unwrap() else {
            panic!("delivered")
        };
        assert_eq!(f.attempts, 1, "the retry came after the TTL: never sent");
        assert_eq!(
            f.reason,
            FailureReason::Expired {
                last_error: throttled.summary()
            }
        );
    }

    #[test]
    fn records_waiting_for_a_free_request_slot_expire_instead_of_going_late() {
        let t0 = Instant::now();
        let config = ProducerConfig {
            record_ttl: SEC,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(1, config);
        let mut rx = put(&mut p, "k", t0);
        assert!(p.poll(t0 + SEC / 2, 0).is_empty(), "no room to send");
        assert!(p.has_ready());
        assert!(p.poll(t0 + SEC, 1).is_empty(), "expired before it could go");
        let Outcome::Failed(f) = rx.try_recv().unwrap() else {
            panic!("delivered")
        };
        assert_eq!(
            f.reason,
            FailureReason::Expired {
                last_error: "waited for a free request slot".into()
            }
        );
        assert_eq!(p.outstanding(), 0);
    }

    #[test]
    fn the_buffering_time_never_holds_a_record_past_its_ttl() {
        let t0 = Instant::now();
        let config = ProducerConfig {
            record_ttl: SEC,
            max_buffered_time: 10 * SEC,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(1, config);
        let _rx = put(&mut p, "k", t0);
        assert_eq!(p.next_wakeup(), Some(t0 + SEC));
        assert!(all(&mut p, t0 + SEC - Duration::from_millis(1)).is_empty());
    }

    #[test]
    fn a_record_whose_buffering_outlasts_its_ttl_says_so_when_it_expires() {
        let t0 = Instant::now();
        for aggregation in [true, false] {
            let config = ProducerConfig {
                aggregation,
                record_ttl: SEC,
                max_buffered_time: 10 * SEC,
                ..ProducerConfig::default()
            };
            let mut p = pipeline(1, config);
            let mut rx = put(&mut p, "k", t0);
            assert!(all(&mut p, t0 + SEC).is_empty());
            let Outcome::Failed(f) = rx.try_recv().unwrap() else {
                panic!("delivered")
            };
            let FailureReason::Expired { last_error } = f.reason else {
                panic!("{f:?}")
            };
            assert!(
                last_error.starts_with("waited to fill a request"),
                "{last_error}"
            );
        }
    }

    #[test]
    fn plain_records_wait_the_buffering_time_to_fill_a_request() {
        let t0 = Instant::now();
        let config = ProducerConfig {
            aggregation: false,
            max_buffered_time: SEC,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(4, config).without_rate_limits();
        let ms = Duration::from_millis;
        let _rx: Vec<_> = (0..50)
            .map(|i| put(&mut p, &format!("k{i}"), t0 + ms(10 * i)))
            .collect();
        assert!(p.poll(t0 + ms(999), usize::MAX).is_empty());
        let batches = p.poll(t0 + SEC, usize::MAX);
        assert_eq!(batches.len(), 1, "one request");
        assert_eq!(batches[0].len(), 50, "every record in it");
    }

    #[test]
    fn an_aggregate_on_a_shard_that_covers_only_some_of_its_records_is_retried_whole() {
        let t0 = Instant::now();
        // The producer's map still has shard 0 whole; the stream has split it at its middle
        // into shards 2 and 3, and the aggregate landed on shard 2.
        let mut p = pipeline(2, ProducerConfig::default());
        let parent = p.map.shards()[0].clone();
        let middle = parent.middle_hash_key().0;
        let covered = |key: &str| HashKey::of_partition_key(key).0 < middle;
        let keys = keys_on(0, 2, 200);
        let low: Vec<&String> = keys.iter().filter(|k| covered(k)).take(2).collect();
        let high: Vec<&String> = keys.iter().filter(|k| !covered(k)).take(2).collect();
        let mut rx: Vec<_> = low
            .iter()
            .chain(&high)
            .map(|k| put(&mut p, k, t0))
            .collect();
        let mut children = p.map.shards().to_vec();
        children[0].open = false;
        children.push(ShardInfo {
            shard_id: "shardId-000000000002".into(),
            starting_hash_key: parent.starting_hash_key,
            ending_hash_key: middle - 1,
            parent_shard_id: Some(parent.shard_id.clone()),
            open: true,
        });
        children.push(ShardInfo {
            shard_id: "shardId-000000000003".into(),
            starting_hash_key: middle,
            ending_hash_key: parent.ending_hash_key,
            parent_shard_id: Some(parent.shard_id.clone()),
            open: true,
        });
        let batch = all(&mut p, t0 + SEC);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].members.len(), 4, "one aggregate of four");
        // The new map arrives while the aggregate is in flight: the landing shard is known.
        p.set_map(Arc::new(ShardMap::new(children)), t0 + SEC);
        let result = ok_for(&batch, "shardId-000000000002");
        p.on_result(batch, result, t0 + SEC);
        assert!(
            rx.iter_mut().all(|r| r.try_recv().is_err()),
            "none counts as delivered: the KCL drops the whole aggregate"
        );
        assert_eq!(p.outstanding(), 4);
        assert_eq!(p.metrics.snapshot(0).sum(|s| s.retries), 4);
        // Retried, each goes to the child that covers it, and is delivered there.
        assert!(all(&mut p, t0 + 3 * SEC).is_empty(), "gathering company");
        let retried = all(&mut p, t0 + 4 * SEC);
        let mut by_shard: Vec<(String, usize)> = retried
            .iter()
            .map(|k| (k.predicted_shard.to_string(), k.members.len()))
            .collect();
        by_shard.sort();
        assert_eq!(
            by_shard,
            [
                ("shardId-000000000002".to_string(), 2),
                ("shardId-000000000003".to_string(), 2)
            ]
        );
        for k in retried {
            let result = ok_for(std::slice::from_ref(&k), &k.predicted_shard.clone());
            p.on_result(vec![k], result, t0 + 3 * SEC);
        }
        assert!(rx.iter_mut().all(|r| r.try_recv().unwrap().is_delivered()));
    }

    #[test]
    fn an_aggregate_on_a_shard_that_covers_all_of_its_records_is_delivered() {
        let t0 = Instant::now();
        let mut p = pipeline(2, ProducerConfig::default());
        let (mut rx, batch) = aggregate_for_shard_0(&mut p, t0);
        p.set_map(Arc::new(merged_map()), t0 + SEC);
        let result = ok_for(&batch, "shardId-000000000002");
        p.on_result(batch, result, t0 + SEC);
        assert!(rx.iter_mut().all(|r| r.try_recv().unwrap().is_delivered()));
    }

    #[test]
    fn a_refused_request_is_halved_until_only_the_bad_records_fail() {
        let t0 = Instant::now();
        let config = ProducerConfig {
            aggregation: false,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(4, config).without_rate_limits();
        let bad_key = "é".repeat(200);
        let keys: Vec<String> = (0..100)
            .map(|i| {
                if i % 37 == 5 {
                    format!("{bad_key}{i}")
                } else {
                    format!("k{i}")
                }
            })
            .collect();
        let mut rx: Vec<_> = keys.iter().map(|k| put(&mut p, k, t0)).collect();
        let mut requests = 0;
        // Like a server that counts keys in UTF-8 bytes and refuses a request with any over 256.
        drive(
            &mut p,
            t0,
            t0 + 2 * SEC,
            Duration::from_millis(10),
            |batch, _| {
                requests += 1;
                if batch.iter().any(|k| k.partition_key.len() > 256) {
                    Err(AttemptError::new(
                        "ValidationException",
                        "partition key too long",
                    ))
                } else {
                    ok_for(batch, "shardId-000000000000")
                }
            },
        );
        assert_eq!(p.outstanding(), 0);
        for (key, r) in keys.iter().zip(&mut rx) {
            match r.try_recv().unwrap() {
                Outcome::Failed(f) => {
                    assert!(key.len() > 256, "{key} failed: {f:?}");
                    let FailureReason::Rejected { code, message } = f.reason else {
                        panic!("{f:?}")
                    };
                    assert_eq!(code, "ValidationException");
                    assert!(
                        message.contains("characters but") && message.contains("UTF-8"),
                        "{message}"
                    );
                }
                Outcome::Delivered(_) => assert!(key.len() <= 256),
            }
        }
        // Each bad record costs at most two requests per halving (7 halvings for 100 records).
        assert!(
            requests <= 1 + 2 * 3 * 7,
            "{requests} requests to find 3 bad records in 100"
        );
    }

    #[test]
    fn a_whole_request_refusal_that_no_entry_explains_fails_every_record_at_once() {
        let t0 = Instant::now();
        let mut p = pipeline(1, ProducerConfig::default());
        let mut rx: Vec<_> = (0..10).map(|i| put(&mut p, &format!("k{i}"), t0)).collect();
        p.set_flushing(true);
        let batches = p.poll(t0, usize::MAX);
        assert_eq!(batches.len(), 1);
        let error = AttemptError::new("AccessDeniedException", "no");
        p.on_result(batches.into_iter().next().unwrap(), Err(error), t0);
        assert!(rx.iter_mut().all(|r| !r.try_recv().unwrap().is_delivered()));
        assert!(p.poll(t0, usize::MAX).is_empty(), "nothing is sent again");
    }

    #[test]
    fn an_aggregate_counts_its_partition_key_against_the_size_limit() {
        let t0 = Instant::now();
        let keys = keys_on(0, 1, 3);
        let mut exact = Aggregator::new();
        for k in &keys {
            exact.add(k, None, b"data");
        }
        // Three records make an aggregate of exactly this many bytes of data: with its key "a"
        // it is one byte over, so only two may share one.
        let limit = exact.encoded_len();
        let config = ProducerConfig {
            aggregation_max_bytes: limit,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(1, config).without_rate_limits();
        let _rx: Vec<_> = keys.iter().map(|k| put(&mut p, k, t0)).collect();
        p.set_flushing(true);
        let sent = all(&mut p, t0);
        assert_eq!(
            sent.iter().map(|k| k.members.len()).collect::<Vec<_>>(),
            [2, 1]
        );
        assert!(sent.iter().all(|k| k.billed_bytes() <= limit));
    }

    #[test]
    fn an_aggregate_never_mixes_records_with_and_without_explicit_hash_keys() {
        let t0 = Instant::now();
        let mut p = pipeline(1, ProducerConfig::default()).without_rate_limits();
        let mut rx = Vec::new();
        for (i, explicit) in [false, false, true, true, true, false, true]
            .iter()
            .enumerate()
        {
            let (reply, outcome) = oneshot::channel();
            let mut record = NewRecord::new(format!("k{i}"), &b"data"[..]);
            record.explicit_hash_key = explicit.then_some(HashKey(i as u128 * 1_000));
            p.add(UserRecord::new(record, reply, t0), t0);
            rx.push(outcome);
        }
        p.set_flushing(true);
        let runs: Vec<(usize, bool)> = all(&mut p, t0)
            .iter()
            .map(|k| (k.members.len(), k.members[0].explicit_hash_key.is_some()))
            .collect();
        assert_eq!(runs, [(2, false), (3, true), (1, false), (1, true)]);
    }

    #[test]
    fn a_lone_record_goes_plain_and_several_share_a_pinned_aggregate() {
        let t0 = Instant::now();
        let mut p = pipeline(4, ProducerConfig::default());
        let keys = keys_on(2, 4, 4);
        let _lone = put(&mut p, &keys[0], t0);
        assert!(
            all(&mut p, t0).is_empty(),
            "nothing goes before the buffering time"
        );
        let sent = all(&mut p, t0 + SEC);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].partition_key, keys[0]);
        assert_eq!(sent[0].explicit_hash_key, None);

        let _rx: Vec<_> = keys[1..].iter().map(|k| put(&mut p, k, t0 + SEC)).collect();
        let sent = all(&mut p, t0 + 3 * SEC);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].partition_key, AGGREGATE_PARTITION_KEY);
        assert_eq!(
            sent[0].explicit_hash_key,
            Some(HashKey::of_partition_key(&keys[1]))
        );
        assert_eq!(sent[0].members.len(), 3);
        assert_eq!(&*sent[0].predicted_shard, "shardId-000000000002");
    }

    #[test]
    fn new_settings_apply_to_records_that_come_after_them() {
        let t0 = Instant::now();
        let mut p = pipeline(4, ProducerConfig::default()).without_rate_limits();
        let keys = keys_on(1, 4, 4);
        let _rx: Vec<_> = keys[..2].iter().map(|k| put(&mut p, k, t0)).collect();
        let tuned = ProducerConfig::default()
            .tuned(Tuning {
                api: Api::PutRecords,
                aggregation: false,
                max_buffered_time: Duration::from_millis(5),
                rate_limit_percent: 50.0,
            })
            .unwrap();
        p.set_config(tuned);
        assert!(p.shards.iter().all(|s| s.limiter.current_share() == 0.5));
        let _rx2: Vec<_> = keys[2..].iter().map(|k| put(&mut p, k, t0)).collect();
        assert!(
            all(&mut p, t0 + Duration::from_millis(4)).is_empty(),
            "plain records wait the new buffering time too"
        );
        let early = all(&mut p, t0 + Duration::from_millis(5));
        assert_eq!(
            early.len(),
            2,
            "plain records wait only the new buffering time"
        );
        assert!(early
            .iter()
            .all(|k| k.explicit_hash_key.is_none() && k.members.len() == 1));
        let late = all(&mut p, t0 + SEC);
        assert_eq!(
            late.len(),
            1,
            "the aggregate made before the change keeps going"
        );
        assert_eq!(late[0].members.len(), 2);
    }

    #[test]
    fn switching_to_put_record_sends_the_batch_collected_so_far_and_then_one_a_request() {
        let t0 = Instant::now();
        let plain = ProducerConfig {
            aggregation: false,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(4, plain.clone()).without_rate_limits();
        let _before: Vec<_> = ["a", "b", "c"].iter().map(|k| put(&mut p, k, t0)).collect();
        assert!(p.poll(t0, usize::MAX).is_empty(), "they wait to be batched");
        let one_a_call = Tuning {
            api: Api::PutRecord,
            ..plain.tuning()
        };
        p.set_config(plain.tuned(one_a_call).unwrap());
        let collected = p.poll(t0, usize::MAX);
        assert_eq!(
            collected.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3],
            "the batch collected before the change goes as it was"
        );
        let _after: Vec<_> = ["d", "e"].iter().map(|k| put(&mut p, k, t0)).collect();
        let single = p.poll(t0 + SEC, usize::MAX);
        assert_eq!(single.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1]);
        p.set_config(plain.tuned(plain.tuning()).unwrap());
        let _back: Vec<_> = ["f", "g"]
            .iter()
            .map(|k| put(&mut p, k, t0 + SEC))
            .collect();
        let batched = p.poll(t0 + 2 * SEC, usize::MAX);
        assert_eq!(batched.iter().map(Vec::len).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn a_stream_that_places_records_itself_gets_them_in_turn_and_unpinned() {
        let t0 = Instant::now();
        let auto = ProducerConfig {
            auto_distribution: true,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(4, auto).without_rate_limits();
        // One key for all: predicted, it would make one hot shard; placed by the stream, each
        // shard gets its turn.
        let _rx: Vec<_> = (0..8).map(|_| put(&mut p, "hot", t0)).collect();
        let sent = all(&mut p, t0 + SEC);
        let mut shards: Vec<&str> = sent.iter().map(|k| &*k.predicted_shard).collect();
        shards.sort();
        shards.dedup();
        assert_eq!(shards.len(), 4, "one aggregate a shard");
        assert!(sent.iter().all(|k| k.members.len() == 2));
        assert!(
            sent.iter().all(|k| k.explicit_hash_key.is_none()),
            "not pinned"
        );
        // Landing elsewhere than predicted is where the stream put it: delivered, the map not
        // suspected, nothing sent again.
        let answer: BatchResult = Ok(sent
            .iter()
            .map(|_| EntryResult::Ok {
                shard_id: "shardId-000000000003".to_string(),
                sequence_number: "1".into(),
            })
            .collect());
        p.on_result(sent, answer, t0 + SEC);
        assert!(!p.map_is_stale());
        assert_eq!(p.outstanding(), 0, "every record resolved");
        assert!(all(&mut p, t0 + 10 * SEC).is_empty());
    }

    #[test]
    fn aggregates_hold_one_shard_and_respect_the_size_limit() {
        let t0 = Instant::now();
        let config = ProducerConfig {
            aggregation_max_bytes: 2_000,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(8, config).without_rate_limits();
        let _rx: Vec<_> = (0..5_000)
            .map(|i| put(&mut p, &format!("key-{i}"), t0))
            .collect();
        p.set_flushing(true);
        let sent = all(&mut p, t0);
        assert_eq!(sent.iter().map(|k| k.members.len()).sum::<usize>(), 5_000);
        let map = ShardMap::even_split(8);
        for k in &sent {
            assert!(k.billed_bytes() <= 2_000);
            for m in &k.members {
                assert_eq!(
                    map.shard_for(m.hash_key).unwrap().shard_id,
                    *k.predicted_shard
                );
            }
        }
    }

    #[test]
    fn throttled_records_are_retried_and_count_their_attempts() {
        let t0 = Instant::now();
        let mut p = pipeline(1, ProducerConfig::default());
        let mut rx = put(&mut p, "k", t0);
        let batch = all(&mut p, t0 + SEC);
        let throttled = AttemptError::new("ProvisionedThroughputExceededException", "slow down");
        p.on_result(batch, Ok(vec![EntryResult::Err(throttled)]), t0 + SEC);
        assert!(rx.try_recv().is_err(), "a throttled record is not resolved");
        assert_eq!(p.outstanding(), 1);
        assert!(
            all(&mut p, t0 + SEC).is_empty(),
            "the retry waits out its backoff"
        );
        // Back in an aggregator, the retry waits the buffering time again to gather company.
        assert!(all(&mut p, t0 + 10 * SEC).is_empty());
        let batch = all(&mut p, t0 + 11 * SEC);
        assert_eq!(batch.len(), 1);
        let result = ok_for(&batch, "shardId-000000000000");
        p.on_result(batch, result, t0 + 10 * SEC);
        let Outcome::Delivered(d) = rx.try_recv().unwrap() else {
            panic!()
        };
        assert_eq!(d.attempts, 2);
        assert_eq!(p.outstanding(), 0);
        let snap = p.metrics.snapshot(0);
        let shard = &snap.shards["shardId-000000000000"];
        assert_eq!(
            (
                shard.throttled,
                shard.retries,
                shard.user_records,
                shard.pending
            ),
            (1, 1, 1, 0)
        );
    }

    #[test]
    fn non_retryable_errors_fail_at_once_with_the_service_message() {
        let t0 = Instant::now();
        let mut p = pipeline(1, ProducerConfig::default());
        let mut rx = put(&mut p, "k", t0);
        let batch = all(&mut p, t0 + SEC);
        let error = AttemptError::new("ResourceNotFoundException", "Stream gone not found");
        p.on_result(batch, Err(error), t0 + SEC);
        let Outcome::Failed(f) = rx.try_recv().unwrap() else {
            panic!()
        };
        assert_eq!(f.attempts, 1);
        assert_eq!(
            f.reason,
            FailureReason::Rejected {
                code: "ResourceNotFoundException".into(),
                message: "Stream gone not found".into()
            }
        );
        assert_eq!(p.outstanding(), 0);
        let errors = p.metrics.snapshot(0).errors_by_code;
        assert_eq!(errors["ResourceNotFoundException"].count, 1);
        assert_eq!(
            errors["ResourceNotFoundException"].last_message,
            "Stream gone not found"
        );
    }

    #[test]
    fn records_past_their_ttl_expire_with_the_last_error() {
        let t0 = Instant::now();
        let config = ProducerConfig {
            record_ttl: 2 * SEC,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(1, config);
        let mut rx = put(&mut p, "k", t0);
        let mut now = t0;
        let outcome = loop {
            now += Duration::from_millis(50);
            let batch = all(&mut p, now);
            if !batch.is_empty() {
                p.on_result(
                    batch,
                    Err(AttemptError::transient("InternalFailure", "boom")),
                    now,
                );
            }
            if let Ok(outcome) = rx.try_recv() {
                break outcome;
            }
            assert!(now < t0 + 10 * SEC, "never expired");
        };
        let Outcome::Failed(f) = outcome else {
            panic!()
        };
        assert!(f.attempts > 1);
        assert!(
            f.latency >= 2 * SEC && f.latency < 3 * SEC,
            "{:?}",
            f.latency
        );
        assert_eq!(
            f.reason,
            FailureReason::Expired {
                last_error: "InternalFailure: boom".into()
            }
        );
    }

    #[test]
    fn an_aggregate_on_a_known_shard_that_covers_none_of_its_records_is_retried_whole() {
        let t0 = Instant::now();
        let mut p = pipeline(2, ProducerConfig::default());
        let (mut rx, batch) = aggregate_for_shard_0(&mut p, t0);
        let result = ok_for(&batch, "shardId-000000000001");
        p.on_result(batch, result, t0 + SEC);
        assert!(p.map_is_stale());
        assert!(rx.iter_mut().all(|r| r.try_recv().is_err()), "all retried");
        assert_eq!(p.outstanding(), 3);
    }

    /// Three records predicted for shard 0 of two, sent at `t0 + SEC` as one aggregate: their
    /// outcomes and the batch.
    fn aggregate_for_shard_0(
        p: &mut Pipeline,
        t0: Instant,
    ) -> (Vec<Receiver<Outcome>>, Vec<KinesisRecord>) {
        let keys = keys_on(0, 2, 3);
        let rx = keys.iter().map(|k| put(p, k, t0)).collect();
        let batch = all(p, t0 + SEC);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].members.len(), 3);
        (rx, batch)
    }

    /// A map in which shard 0 of `even_split(2)` was merged with shard 1 into shard 2.
    fn merged_map() -> ShardMap {
        let mut merged = ShardMap::even_split(2).shards().to_vec();
        for s in &mut merged {
            s.open = false;
        }
        merged.push(ShardInfo {
            shard_id: "shardId-000000000002".into(),
            starting_hash_key: 0,
            ending_hash_key: u128::MAX,
            parent_shard_id: Some("shardId-000000000000".into()),
            open: true,
        });
        ShardMap::new(merged)
    }

    #[test]
    fn an_aggregate_on_a_shard_the_map_does_not_list_waits_for_a_map_that_does() {
        let t0 = Instant::now();
        let mut p = pipeline(2, ProducerConfig::default());
        let (mut rx, batch) = aggregate_for_shard_0(&mut p, t0);
        let result = ok_for(&batch, "shardId-000000000002");
        p.on_result(batch, result, t0 + SEC);
        assert!(p.map_is_stale());
        assert!(
            rx.iter_mut().all(|r| r.try_recv().is_err()),
            "neither delivered nor retried before the landing shard is known"
        );
        assert!(all(&mut p, t0 + 2 * SEC).is_empty(), "nothing sent again");
        // The merged shard covers every record: written once, delivered once.
        p.set_map(Arc::new(merged_map()), t0 + 3 * SEC);
        for r in &mut rx {
            let Outcome::Delivered(d) = r.try_recv().unwrap() else {
                panic!("not delivered")
            };
            assert_eq!(d.shard_id, "shardId-000000000002");
            assert_eq!(d.attempts, 1);
            assert!(d.latency <= SEC, "latency runs to the answer: {d:?}");
        }
        assert_eq!(p.outstanding(), 0);
    }

    #[test]
    fn an_aggregate_on_a_shard_no_map_lists_expires_saying_so() {
        let t0 = Instant::now();
        let config = ProducerConfig {
            record_ttl: 2 * SEC,
            ..ProducerConfig::default()
        };
        let mut p = pipeline(2, config);
        let (mut rx, batch) = aggregate_for_shard_0(&mut p, t0);
        let result = ok_for(&batch, "shardId-000000000009");
        p.on_result(batch, result, t0 + SEC);
        p.set_map(Arc::new(ShardMap::even_split(2)), t0 + SEC);
        assert_eq!(p.next_wakeup(), Some(t0 + 2 * SEC));
        assert!(all(&mut p, t0 + 2 * SEC).is_empty());
        for r in &mut rx {
            let Outcome::Failed(f) = r.try_recv().unwrap() else {
                panic!("delivered")
            };
            let FailureReason::Expired { last_error } = f.reason else {
                panic!("{f:?}")
            };
            assert!(last_error.contains("shardId-000000000009"), "{last_error}");
            assert!(last_error.contains("may or may not"), "{last_error}");
        }
        assert_eq!(p.outstanding(), 0);
    }

    #[test]
    fn records_no_open_shard_covers_wait_for_a_map_then_expire() {
        let t0 = Instant::now();
        let mut closed = ShardMap::even_split(1).shards().to_vec();
        closed[0].open = false;
        let config = ProducerConfig {
            record_ttl: 2 * SEC,
            ..ProducerConfig::default()
        };
        let mut p = Pipeline::new(
            config,
            Arc::new(ShardMap::new(closed)),
            ProducerMetrics::new(),
        );
        let mut rx = put(&mut p, "k", t0);
        assert!(p.map_is_stale());
        assert!(all(&mut p, t0 + SEC).is_empty());
        assert!(rx.try_recv().is_err());
        assert_eq!(p.next_wakeup(), Some(t0 + 2 * SEC));
        assert!(all(&mut p, t0 + 2 * SEC).is_empty());
        let Outcome::Failed(f) = rx.try_recv().unwrap() else {
            panic!()
        };
        assert!(matches!(f.reason, FailureReason::Expired { .. }), "{f:?}");
        assert_eq!(p.outstanding(), 0);
    }

    #[test]
    fn an_answer_with_the_wrong_number_of_entries_retries_the_batch() {
        let t0 = Instant::now();
        let mut p = pipeline(1, ProducerConfig::default());
        let mut rx = put(&mut p, "k", t0);
        let batch = all(&mut p, t0 + SEC);
        p.on_result(batch, Ok(Vec::new()), t0 + SEC);
        assert!(rx.try_recv().is_err(), "not lost, not resolved: retried");
        assert_eq!(p.outstanding(), 1);
        assert_eq!(p.metrics.snapshot(0).sum(|s| s.retries), 1);
    }

    #[test]
    fn a_new_map_reroutes_buffered_records_and_shutdown_fails_the_rest() {
        let t0 = Instant::now();
        let mut p = pipeline(1, ProducerConfig::default());
        let mut rx: Vec<_> = (0..50).map(|i| put(&mut p, &format!("k{i}"), t0)).collect();
        let mut split = ShardMap::even_split(2).shards().to_vec();
        for s in &mut split {
            s.shard_id = s
                .shard_id
                .replace("shardId-0000000000", "shardId-0000000001");
        }
        p.set_map(Arc::new(ShardMap::new(split)), t0);
        p.set_flushing(true);
        let sent = all(&mut p, t0);
        assert_eq!(sent.len(), 2);
        assert!(sent
            .iter()
            .all(|k| k.predicted_shard.starts_with("shardId-0000000001")));
        drop(sent);
        let _more: Vec<_> = (0..5).map(|i| put(&mut p, &format!("m{i}"), t0)).collect();
        assert_eq!(p.fail_all("test", t0), 5);
        assert_eq!(
            p.outstanding(),
            50,
            "in-flight records are the driver's to resolve"
        );
        assert!(rx.iter_mut().all(|r| r.try_recv().is_err()));
    }
}
