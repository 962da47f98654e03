//! Producer settings, with the KPL's defaults where they are right.

use crate::kinesis::admin::StreamFacts;
use std::time::Duration;

/// Kinesis's per-shard write limits.
pub const SHARD_RECORDS_PER_SEC: f64 = 1000.0;
pub const SHARD_BYTES_PER_SEC: f64 = 1024.0 * 1024.0;
/// Most entries in one PutRecords request.
pub const PUT_RECORDS_MAX_ENTRIES: usize = 500;
/// Default most bytes (partition keys + data) in one PutRecords request.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 5 * 1024 * 1024;
/// The range of the producer's share of each shard's write limits, in percent.
const MIN_RATE_LIMIT_PERCENT: f64 = 0.1;
const MAX_RATE_LIMIT_PERCENT: f64 = 1000.0;
/// Default most bytes (partition key + data) of one record.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1024 * 1024;
/// The largest record any stream accepts (key + data).
pub const MAX_RECORD_BYTES: usize = 10 * 1024 * 1024;

/// The Kinesis call records go out with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Api {
    /// PutRecords: up to 500 records a call (with aggregation, the KPL's way).
    #[default]
    PutRecords,
    /// PutRecord: one call per record, as the SDK's examples send, many calls at once.
    PutRecord,
}

#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// The call records go out with; PutRecord sends each user record alone (no aggregation,
    /// one entry a request).
    pub api: Api,
    /// Put user records into KPL aggregates.
    pub aggregation: bool,
    /// Most bytes of one aggregate, framing included (KPL: 51,200).
    pub aggregation_max_bytes: usize,
    /// Most user records in one aggregate.
    pub aggregation_max_count: usize,
    /// Most entries in one PutRecords request (at most 500).
    pub collection_max_count: usize,
    /// Most bytes (keys + data) in one PutRecords request.
    pub max_request_bytes: usize,
    /// Most bytes (key + data) of one Kinesis record; streams may allow up to 10 MiB.
    pub max_record_bytes: usize,
    /// How long a record may wait to be batched before it is sent (KPL: 100 ms).
    pub max_buffered_time: Duration,
    /// A record not delivered within this time fails as expired (KPL: 30 s).
    pub record_ttl: Duration,
    /// The share of each shard's write limits the limiter allows, in percent.
    pub rate_limit_percent: f64,
    /// Most user records accepted but not yet resolved; `put` waits past this.
    pub max_outstanding_records: usize,
    /// Most user-record bytes accepted but not yet resolved.
    pub max_outstanding_bytes: usize,
    /// Most PutRecords requests in flight at once.
    pub max_concurrent_requests: usize,
    /// How long one PutRecords request may take before it counts as failed.
    pub request_timeout: Duration,
    /// First retry delay; doubles with each attempt, with equal jitter (see `retry::backoff`).
    pub retry_base_delay: Duration,
    /// Longest retry delay.
    pub retry_max_delay: Duration,
    /// The stream places records itself (the AUTO record distribution strategy of on-demand
    /// streams): partition keys and explicit hash keys choose no shard, so records are spread
    /// over the open shards in turn instead of predicted, and aggregates carry no hash key.
    pub auto_distribution: bool,
    /// Take the largest record from the stream where it says (up to 10 MiB) instead of
    /// `max_record_bytes` (off when a size was asked for).
    pub record_size_from_stream: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            api: Api::PutRecords,
            aggregation: true,
            aggregation_max_bytes: 51_200,
            aggregation_max_count: usize::MAX,
            collection_max_count: PUT_RECORDS_MAX_ENTRIES,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_buffered_time: Duration::from_millis(100),
            record_ttl: Duration::from_secs(30),
            rate_limit_percent: 100.0,
            max_outstanding_records: 100_000,
            max_outstanding_bytes: 256 * 1024 * 1024,
            max_concurrent_requests: 24,
            request_timeout: Duration::from_secs(6),
            retry_base_delay: Duration::from_millis(100),
            retry_max_delay: Duration::from_secs(5),
            auto_distribution: false,
            record_size_from_stream: true,
        }
    }
}

impl ProducerConfig {
    /// This configuration sending with `api`: PutRecord turns aggregation off and sends one
    /// record a request.
    pub fn with_api(self, api: Api) -> ProducerConfig {
        match api {
            Api::PutRecords => ProducerConfig { api, ..self },
            Api::PutRecord => ProducerConfig {
                api,
                aggregation: false,
                collection_max_count: 1,
                ..self
            },
        }
    }
}

impl ProducerConfig {
    /// This configuration for a stream as the service describes it: records spread in turn
    /// where it places them itself, and its largest record (and requests that can carry one)
    /// where it allows more than the default.
    pub fn for_stream(self, facts: &StreamFacts) -> ProducerConfig {
        let max_record_bytes = match facts.max_record_bytes {
            Some(max) if self.record_size_from_stream => {
                max.clamp(DEFAULT_MAX_RECORD_BYTES, MAX_RECORD_BYTES)
            }
            _ => self.max_record_bytes,
        };
        ProducerConfig {
            auto_distribution: facts.auto_distribution,
            max_record_bytes,
            max_request_bytes: self.max_request_bytes.max(max_record_bytes),
            ..self
        }
    }
}

/// A setting out of its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("setting {field} = {value} is out of range: {limit}")]
pub struct ConfigError {
    pub field: &'static str,
    pub value: String,
    pub limit: &'static str,
}

/// The settings that may change while the producer runs (the workbench's keys change them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// PutRecords, or one PutRecord call a record (aggregation off while it is chosen).
    pub api: Api,
    pub aggregation: bool,
    pub max_buffered_time: Duration,
    pub rate_limit_percent: f64,
}

impl ProducerConfig {
    pub fn tuning(&self) -> Tuning {
        Tuning {
            api: self.api,
            aggregation: self.aggregation,
            max_buffered_time: self.max_buffered_time,
            rate_limit_percent: self.rate_limit_percent,
        }
    }

    /// This configuration with `tuning` applied, if the result is valid.
    pub fn tuned(&self, tuning: Tuning) -> Result<ProducerConfig, ConfigError> {
        let config = ProducerConfig {
            aggregation: tuning.aggregation,
            max_buffered_time: tuning.max_buffered_time,
            rate_limit_percent: tuning.rate_limit_percent,
            ..self.clone()
        }
        .with_api(tuning.api);
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting against Kinesis's limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |ok: bool, field: &'static str, value: String, limit: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError {
                    field,
                    value,
                    limit,
                })
            }
        };
        check(
            self.api == Api::PutRecords || (!self.aggregation && self.collection_max_count == 1),
            "api",
            format!("{:?}", self.api),
            "PutRecord sends each record alone: aggregation off and collection_max_count 1",
        )?;
        check(
            (1..=PUT_RECORDS_MAX_ENTRIES).contains(&self.collection_max_count),
            "collection_max_count",
            self.collection_max_count.to_string(),
            "1 to 500",
        )?;
        check(
            (DEFAULT_MAX_RECORD_BYTES..=MAX_RECORD_BYTES).contains(&self.max_record_bytes),
            "max_record_bytes",
            self.max_record_bytes.to_string(),
            "1 MiB to 10 MiB",
        )?;
        check(
            self.max_request_bytes >= self.max_record_bytes
                && self.max_request_bytes <= 10 * 1024 * 1024,
            "max_request_bytes",
            self.max_request_bytes.to_string(),
            "at least max_record_bytes and at most 10 MiB",
        )?;
        check(
            self.aggregation_max_bytes <= self.max_record_bytes,
            "aggregation_max_bytes",
            self.aggregation_max_bytes.to_string(),
            "at most max_record_bytes",
        )?;
        check(
            self.max_buffered_time <= Duration::from_secs(60),
            "max_buffered_time",
            format!("{:?}", self.max_buffered_time),
            "at most 60 s",
        )?;
        check(
            (MIN_RATE_LIMIT_PERCENT..=MAX_RATE_LIMIT_PERCENT).contains(&self.rate_limit_percent),
            "rate_limit_percent",
            format!("{:?}", self.rate_limit_percent),
            "from 0.1 to 1000 (percent of each shard's write limit)",
        )?;
        check(
            self.max_outstanding_records > 0 && self.max_concurrent_requests > 0,
            "max_outstanding_records",
            self.max_outstanding_records.to_string(),
            "at least 1 (and max_concurrent_requests at least 1)",
        )?;
        check(
            self.max_outstanding_bytes >= self.max_record_bytes,
            "max_outstanding_bytes",
            self.max_outstanding_bytes.to_string(),
            "at least max_record_bytes",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_s_own_record_limit_applies_unless_one_was_asked_for() {
        let facts = StreamFacts {
            max_record_bytes: Some(8 * 1024 * 1024),
            ..StreamFacts::default()
        };
        let config = ProducerConfig::default().for_stream(&facts);
        assert_eq!(config.max_record_bytes, 8 * 1024 * 1024);
        assert_eq!(
            config.max_request_bytes,
            8 * 1024 * 1024,
            "a request carries one"
        );
        assert!(config.validate().is_ok());
        let asked = ProducerConfig {
            record_size_from_stream: false,
            ..ProducerConfig::default()
        }
        .for_stream(&facts);
        assert_eq!(asked.max_record_bytes, DEFAULT_MAX_RECORD_BYTES);
        // Whatever the service says, within what any stream takes.
        for (said, used) in [
            (0, DEFAULT_MAX_RECORD_BYTES),
            (usize::MAX, MAX_RECORD_BYTES),
        ] {
            let facts = StreamFacts {
                max_record_bytes: Some(said),
                ..StreamFacts::default()
            };
            assert_eq!(
                ProducerConfig::default()
                    .for_stream(&facts)
                    .max_record_bytes,
                used
            );
        }
        let auto = StreamFacts {
            auto_distribution: true,
            ..StreamFacts::default()
        };
        assert!(
            ProducerConfig::default()
                .for_stream(&auto)
                .auto_distribution
        );
        assert!(
            !ProducerConfig::default()
                .for_stream(&StreamFacts::default())
                .auto_distribution
        );
    }
}
