//! Reading a stream back: GetRecords over every shard (or one), deaggregated into user records.
//!
//! Without `follow`, each shard is read from its start position to its current end and the
//! shards are read one after another, so output is in per-shard order. With `follow`, every open
//! shard is read at once until stopped, polling within the read limits (5 calls/s per shard), and
//! the children of a shard that closes (a split or merge) are read from their beginning.

use crate::errors::describe;
use crate::kinesis::kpl_format::{deaggregate, kcl_accepts};
use crate::kinesis::shard_map::{list_shards, ShardInfo};
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{Record, ShardIteratorType};
use aws_sdk_kinesis::Client;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// Where reading starts in each shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAt {
    TrimHorizon,
    Latest,
    Timestamp(SystemTime),
    /// At a sequence number (which belongs to one shard).
    Sequence(String),
    /// Just after a sequence number: where a reader resumes.
    AfterSequence(String),
}

impl std::str::FromStr for StartAt {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let start = Self::parse(text)?;
        if let StartAt::Timestamp(at) = start {
            if at > SystemTime::now() {
                return Err(format!(
                    "{text:?} is in the future: no record has arrived then yet"
                ));
            }
        }
        Ok(start)
    }
}

impl StartAt {
    fn parse(text: &str) -> Result<StartAt, String> {
        match text {
            "trim-horizon" | "TRIM_HORIZON" => Ok(StartAt::TrimHorizon),
            "latest" | "LATEST" => Ok(StartAt::Latest),
            t if t.len() > 20 && t.bytes().all(|b| b.is_ascii_digit()) => Ok(StartAt::Sequence(t.to_string())),
            t if epoch_seconds(t).is_some() => {
                let secs = epoch_seconds(t).expect("checked");
                Ok(StartAt::Timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs)))
            }
            t => rfc3339(t).map(StartAt::Timestamp).ok_or_else(|| {
                format!(
                    "{t:?} is not a start position: use trim-horizon, latest, a time (2026-11-25T19:00:00Z, 2026-11-25T20:00:00+01:00 or epoch seconds) or a sequence number"
                )
            }),
        }
    }
}

/// Epoch seconds, whole or with a fraction (at most 12 digits before the point).
fn epoch_seconds(text: &str) -> Option<f64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    (digits(whole) && whole.len() <= 12 && digits(fraction)).then(|| text.parse().ok())?
}

/// An RFC 3339 time in UTC (`Z`, either case) or with an offset (`+01:00`, `-05:30`).
fn rfc3339(text: &str) -> Option<SystemTime> {
    let split = text
        .len()
        .checked_sub(6)
        .filter(|&i| text.is_char_boundary(i));
    let offset = split.and_then(|i| {
        let (time, zone) = text.split_at(i);
        let sign = match zone.as_bytes()[0] {
            b'+' => 1i64,
            b'-' => -1,
            _ => return None,
        };
        let (hours, minutes) = zone[1..].split_once(':')?;
        let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
        (hours < 24 && minutes < 60).then_some((time, sign * (hours * 3600 + minutes * 60)))
    });
    let (time, offset_secs) = match offset {
        Some((time, secs)) => (format!("{time}Z"), secs),
        None => (text.replace('z', "Z"), 0),
    };
    let local = humantime::parse_rfc3339_weak(&time).ok()?;
    // 20:00+01:00 is 19:00 UTC.
    if offset_secs >= 0 {
        local.checked_sub(Duration::from_secs(offset_secs as u64))
    } else {
        local.checked_add(Duration::from_secs(offset_secs.unsigned_abs()))
    }
}

/// One user record read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRecord {
    pub shard_id: String,
    pub sequence_number: String,
    pub sub_sequence_number: u64,
    pub aggregated: bool,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub arrival_time: Option<SystemTime>,
    pub data: Vec<u8>,
    /// The KCL drops this record: it is in an aggregate with a sub-record whose hash key lies
    /// outside the shard it was read from (the KCL drops such an aggregate whole).
    pub kcl_drops: bool,
}

#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub stream: String,
    /// Only this shard; otherwise every shard.
    pub shard: Option<String>,
    pub start: StartAt,
    pub follow: bool,
    /// Read with enhanced fan-out (a registered consumer and SubscribeToShard) instead of
    /// GetRecords; the consumer is deregistered when reading ends.
    pub efo: bool,
}

/// Reads the stream as `options` say, sending each user record to `out` until done, `out` is
/// closed, or (when following) forever.
pub async fn read(
    client: &Client,
    options: &ReadOptions,
    out: mpsc::Sender<ReadRecord>,
) -> Result<(), String> {
    if !options.efo {
        return read_with(client, options, None, out).await;
    }
    let consumer = efo::register(client, &options.stream).await?;
    let result = read_with(client, options, Some(&consumer), out).await;
    let deregistered = efo::deregister(client, &consumer).await;
    result.and(deregistered)
}

async fn read_with(
    client: &Client,
    options: &ReadOptions,
    consumer: Option<&str>,
    out: mpsc::Sender<ReadRecord>,
) -> Result<(), String> {
    let map = list_shards(client, &options.stream)
        .await
        .map_err(|e| describe(&e))?;
    // A stream that places records itself (AUTO) puts aggregates on any shard: the KCL's
    // hash-range rule does not apply to it.
    let placed = crate::kinesis::admin::describe(client, &options.stream)
        .await
        .is_ok_and(|s| s.facts().auto_distribution);
    let shards: Vec<ShardInfo> = match &options.shard {
        Some(id) => {
            let shard = map
                .get(id)
                .ok_or_else(|| format!("stream {:?} has no shard {id:?}", options.stream))?;
            vec![shard.clone()]
        }
        None if options.follow => map.open_shards().cloned().collect(),
        None => map.shards().to_vec(),
    };
    if matches!(options.start, StartAt::Sequence(_)) && options.shard.is_none() {
        return Err(
            "--from SEQUENCE_NUMBER needs --shard: a sequence number belongs to one shard".into(),
        );
    }
    if !options.follow {
        for shard in shards {
            read_shard(
                client,
                options,
                consumer,
                &shard,
                options.start.clone(),
                &out,
                placed,
            )
            .await?;
        }
        return Ok(());
    }
    let (closed_tx, mut closed_rx) = mpsc::unbounded_channel::<String>();
    let mut started: HashSet<String> = shards.iter().map(|s| s.shard_id.clone()).collect();
    let mut tasks = tokio::task::JoinSet::new();
    let spawn =
        |tasks: &mut tokio::task::JoinSet<Result<(), String>>, shard: ShardInfo, start: StartAt| {
            let (client, options, out, closed) = (
                client.clone(),
                options.clone(),
                out.clone(),
                closed_tx.clone(),
            );
            let consumer = consumer.map(str::to_string);
            tasks.spawn(async move {
                read_shard(
                    &client,
                    &options,
                    consumer.as_deref(),
                    &shard,
                    start,
                    &out,
                    placed,
                )
                .await?;
                let _ = closed.send(shard.shard_id);
                Ok(())
            });
        };
    for shard in shards {
        spawn(&mut tasks, shard, options.start.clone());
    }
    loop {
        tokio::select! {
            Some(done) = tasks.join_next() => {
                done.map_err(|e| e.to_string())??;
            }
            Some(closed) = closed_rx.recv() => {
                // Follow the children of a shard that has ended, from their beginning.
                let map = list_shards(client, &options.stream).await.map_err(|e| describe(&e))?;
                for child in map.shards().iter().filter(|s| s.parent_shard_id.as_deref() == Some(&closed)) {
                    if started.insert(child.shard_id.clone()) {
                        spawn(&mut tasks, child.clone(), StartAt::TrimHorizon);
                    }
                }
            }
            _ = out.closed() => return Ok(()),
        }
    }
}

/// Enhanced fan-out: a consumer of our own and a subscription per shard.
mod efo {
    use super::{not_before, send_user_records, ReadRecord, ShardInfo, StartAt};
    use crate::errors::describe;
    use aws_sdk_kinesis::primitives::DateTime;
    use aws_sdk_kinesis::types::{
        ShardIteratorType, StartingPosition, SubscribeToShardEventStream,
    };
    use aws_sdk_kinesis::Client;
    use std::time::Duration;
    use tokio::sync::mpsc;

    /// Registers a consumer for this reader and waits until it is ACTIVE; returns its ARN.
    pub async fn register(client: &Client, stream: &str) -> Result<String, String> {
        let summary = client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let arn = summary
            .stream_description_summary()
            .map(|d| d.stream_arn().to_string())
            .ok_or("DescribeStreamSummary returned no stream ARN")?;
        let name = format!(
            "kwb-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        );
        let registered = client
            .register_stream_consumer()
            .stream_arn(&arn)
            .consumer_name(name)
            .send()
            .await
            .map_err(|e| format!("RegisterStreamConsumer: {}", describe(&e)))?;
        let consumer = registered
            .consumer()
            .map(|c| c.consumer_arn().to_string())
            .ok_or("RegisterStreamConsumer returned no consumer")?;
        for _ in 0..600 {
            let status = client
                .describe_stream_consumer()
                .consumer_arn(&consumer)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            if status
                .consumer_description()
                .is_some_and(|d| d.consumer_status().as_str() == "ACTIVE")
            {
                return Ok(consumer);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = deregister(client, &consumer).await;
        Err("the enhanced fan-out consumer did not become ACTIVE within 60 s".into())
    }

    pub async fn deregister(client: &Client, consumer: &str) -> Result<(), String> {
        client
            .deregister_stream_consumer()
            .consumer_arn(consumer)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("DeregisterStreamConsumer: {}", describe(&e)))
    }

    fn position(start: &StartAt) -> StartingPosition {
        let builder = StartingPosition::builder();
        let builder = match start {
            StartAt::TrimHorizon => builder.r#type(ShardIteratorType::TrimHorizon),
            StartAt::Latest => builder.r#type(ShardIteratorType::Latest),
            StartAt::Timestamp(t) => builder
                .r#type(ShardIteratorType::AtTimestamp)
                .timestamp(DateTime::from(*t)),
            StartAt::Sequence(s) => builder
                .r#type(ShardIteratorType::AtSequenceNumber)
                .sequence_number(s),
            StartAt::AfterSequence(s) => builder
                .r#type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(s),
        };
        builder.build().expect("type is set")
    }

    /// Reads one shard through subscriptions (each lasts up to 5 minutes), resuming after the
    /// last record, until caught up (without `follow`), the shard ends, or `out` closes.
    pub async fn subscribe(
        client: &Client,
        consumer: &str,
        follow: bool,
        shard: &ShardInfo,
        mut start: StartAt,
        out: &mpsc::Sender<ReadRecord>,
        placed: bool,
    ) -> Result<(), String> {
        let shard_id = &shard.shard_id;
        let since = not_before(&start);
        loop {
            let mut subscription = client
                .subscribe_to_shard()
                .consumer_arn(consumer)
                .shard_id(shard_id)
                .starting_position(position(&start))
                .send()
                .await
                .map_err(|e| format!("SubscribeToShard on {shard_id}: {}", describe(&e)))?;
            loop {
                let event = tokio::select! {
                    event = subscription.event_stream.recv() => event,
                    _ = out.closed() => return Ok(()),
                };
                let event = match event {
                    Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(event))) => event,
                    Ok(Some(_)) => continue,
                    // The subscription ran its course: subscribe again from where it stopped.
                    Ok(None) => break,
                    Err(e) => {
                        return Err(format!("SubscribeToShard on {shard_id}: {}", describe(&e)))
                    }
                };
                for record in event.records() {
                    if !send_user_records(shard, record, since, out, placed).await {
                        return Ok(());
                    }
                }
                let next = event.continuation_sequence_number();
                if next.is_empty() {
                    return Ok(()); // the shard is closed and fully read
                }
                start = StartAt::AfterSequence(next.to_string());
                if !follow && event.records().is_empty() && event.millis_behind_latest() == 0 {
                    return Ok(());
                }
            }
        }
    }
}

async fn iterator(
    client: &Client,
    stream: &str,
    shard: &str,
    start: &StartAt,
) -> Result<Option<String>, String> {
    let request = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard);
    let request = match start {
        StartAt::TrimHorizon => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        StartAt::Latest => request.shard_iterator_type(ShardIteratorType::Latest),
        StartAt::Timestamp(t) => request
            .shard_iterator_type(ShardIteratorType::AtTimestamp)
            .timestamp(DateTime::from(*t)),
        StartAt::Sequence(s) => request
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .starting_sequence_number(s),
        StartAt::AfterSequence(s) => request
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .starting_sequence_number(s),
    };
    let answer = request.send().await.map_err(|e| describe(&e))?;
    Ok(answer.shard_iterator().map(str::to_string))
}

/// Reads one shard, by subscription when there is a consumer, else by polling; returns when it is
/// read to its end (closed, or caught up when not following) or `out` is closed.
async fn read_shard(
    client: &Client,
    options: &ReadOptions,
    consumer: Option<&str>,
    shard: &ShardInfo,
    start: StartAt,
    out: &mpsc::Sender<ReadRecord>,
    placed: bool,
) -> Result<(), String> {
    match consumer {
        Some(consumer) => {
            efo::subscribe(client, consumer, options.follow, shard, start, out, placed).await
        }
        None => poll_shard(client, options, shard, start, out, placed).await,
    }
}

/// When reading from `start` means: records that arrived before it are not wanted (a server may
/// answer an AT_TIMESTAMP iterator with a shard's oldest records when none is that recent).
fn not_before(start: &StartAt) -> Option<SystemTime> {
    match start {
        StartAt::Timestamp(t) => Some(*t),
        _ => None,
    }
}

/// Whether an arrival time is before `since`, to the arrival time's precision: a server that
/// gives whole seconds (the embedded one does) keeps the records of the second `since` is in.
fn arrived_before(at: SystemTime, since: SystemTime) -> bool {
    let whole_second = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .is_ok_and(|d| d.subsec_nanos() == 0);
    let since = match since.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) if whole_second => SystemTime::UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        _ => since,
    };
    at < since
}

/// Sends a Kinesis record's user records, each marked when the KCL would drop it (never where
/// the stream `placed` records itself), unless it arrived before `since`; false when `out` is
/// closed.
async fn send_user_records(
    shard: &ShardInfo,
    record: &Record,
    since: Option<SystemTime>,
    out: &mpsc::Sender<ReadRecord>,
    placed: bool,
) -> bool {
    let arrival = record
        .approximate_arrival_timestamp()
        .and_then(|t| SystemTime::try_from(*t).ok());
    if since
        .zip(arrival)
        .is_some_and(|(since, at)| arrived_before(at, since))
    {
        return true;
    }
    let users = deaggregate(
        record.partition_key().unwrap_or_default(),
        None,
        record.data().as_ref(),
    );
    let kcl_drops = !placed && !kcl_accepts(&users, shard);
    for user in users {
        let read = ReadRecord {
            shard_id: shard.shard_id.clone(),
            sequence_number: record.sequence_number().to_string(),
            sub_sequence_number: user.sub_sequence_number,
            aggregated: user.aggregated,
            partition_key: user.partition_key,
            explicit_hash_key: user.explicit_hash_key,
            arrival_time: arrival,
            data: user.data,
            kcl_drops,
        };
        if out.send(read).await.is_err() {
            return false;
        }
    }
    true
}

/// Records asked for in a shard's first GetRecords, before their size is known: ten records of
/// at most 1 MiB (Kinesis's default record limit) are 10 MiB.
const FIRST_PAGE_RECORDS: i32 = 10;
/// What Kinesis returns at most in one GetRecords answer.
const MAX_PAGE_RECORDS: i32 = 10_000;
const MAX_PAGE_BYTES: usize = 10 * 1024 * 1024;

/// How many records to ask for next, so that an answer stays within what Kinesis itself returns
/// (10,000 records, 10 MiB) if the next records are no larger than the largest read from the
/// shard so far (a server that does not bound its answers, such as the embedded one, would
/// otherwise send 10,000 aggregates of 50 KiB in one).
fn next_page_records(largest_so_far: usize) -> i32 {
    if largest_so_far == 0 {
        return FIRST_PAGE_RECORDS;
    }
    (MAX_PAGE_BYTES / largest_so_far).clamp(1, MAX_PAGE_RECORDS as usize) as i32
}

/// Reads one shard with GetRecords.
async fn poll_shard(
    client: &Client,
    options: &ReadOptions,
    shard: &ShardInfo,
    start: StartAt,
    out: &mpsc::Sender<ReadRecord>,
    placed: bool,
) -> Result<(), String> {
    let shard_id = &shard.shard_id;
    let mut it = iterator(client, &options.stream, shard_id, &start).await?;
    let mut last_sequence: Option<String> = None;
    let mut backoff = Duration::from_millis(200);
    let mut limit = FIRST_PAGE_RECORDS;
    let mut largest_so_far = 0;
    while let Some(current) = it.take() {
        let page = match client
            .get_records()
            .shard_iterator(&current)
            .limit(limit)
            .send()
            .await
        {
            Ok(page) => page,
            Err(e) => {
                let service = e.as_service_error();
                if service.is_some_and(|s| s.is_expired_iterator_exception()) {
                    let resume = match &last_sequence {
                        Some(seq) => StartAt::AfterSequence(seq.clone()),
                        None => start.clone(),
                    };
                    it = iterator(client, &options.stream, shard_id, &resume).await?;
                    continue;
                }
                if service.is_some_and(|s| s.is_provisioned_throughput_exceeded_exception()) {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    it = Some(current);
                    continue;
                }
                return Err(format!("GetRecords on {shard_id}: {}", describe(&e)));
            }
        };
        backoff = Duration::from_millis(200);
        largest_so_far = page
            .records()
            .iter()
            .map(|r| r.data().as_ref().len() + r.partition_key().map_or(0, str::len))
            .fold(largest_so_far, usize::max);
        limit = next_page_records(largest_so_far);
        for record in page.records() {
            last_sequence = Some(record.sequence_number().to_string());
            if !send_user_records(shard, record, not_before(&options.start), out, placed).await {
                return Ok(());
            }
        }
        it = page.next_shard_iterator().map(str::to_string);
        // At the end only when an answer is empty at the tip: a full answer may have more behind
        // it even when the server says it is 0 ms behind (records written within the second).
        let caught_up =
            page.records().is_empty() && page.millis_behind_latest().is_none_or(|ms| ms == 0);
        if caught_up && !options.follow {
            return Ok(());
        }
        if caught_up {
            // Stay within 5 GetRecords calls per second per shard while waiting for data.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = out.closed() => return Ok(()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_offsets_fractions_and_either_z() {
        let utc = |t: &str| match t.parse::<StartAt>() {
            Ok(StartAt::Timestamp(at)) => humantime::format_rfc3339_millis(at).to_string(),
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(utc("2025-11-26T18:00:00+01:00"), "2025-11-26T17:00:00.000Z");
        assert_eq!(utc("2025-11-26T18:00:00-05:30"), "2025-11-26T23:30:00.000Z");
        assert_eq!(utc("2025-11-26T18:00:00.250z"), "2025-11-26T18:00:00.250Z");
        assert_eq!(utc("1764189000.5"), "2025-11-26T20:30:00.500Z");
        for bad in [
            "2026-11-26T18:00:00+25:00",
            "2026-11-26T18:00:00+1:00",
            "1.2.3",
            ".",
        ] {
            assert!(bad.parse::<StartAt>().is_err(), "{bad}");
        }
    }

    #[test]
    fn arrival_is_compared_to_its_own_precision() {
        let at = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        assert!(arrived_before(at(1_500), at(1_501)));
        assert!(!arrived_before(at(1_501), at(1_501)));
        // A whole second is the second the record arrived in.
        assert!(!arrived_before(at(1_000), at(1_999)));
        assert!(arrived_before(at(1_000), at(2_000)));
    }

    #[test]
    fn a_page_stays_within_ten_mib_of_the_largest_record_read_so_far() {
        // Nothing read yet: ten records of up to 1 MiB.
        assert_eq!(next_page_records(0), 10);
        assert_eq!(next_page_records(1024 * 1024), 10);
        assert_eq!(next_page_records(900_000), 11);
        assert_eq!(next_page_records(100), 10_000);
        // Records past 10 MiB (a stream that allows them): one at a time.
        assert_eq!(next_page_records(11 * 1024 * 1024), 1);
    }
}
