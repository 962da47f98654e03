//! Sending: one PutRecords request per batch (or one PutRecord per record) through
//! aws-sdk-kinesis, its answer mapped to per-entry results or one request-wide error. Retrying is
//! the pipeline's job, not the SDK's.

use crate::errors::describe;
use crate::producer::pipeline::{BatchResult, EntryResult};
use crate::producer::record::KinesisRecord;
use crate::producer::retry::{AttemptError, ErrorKind};
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;
use std::future::Future;
use std::time::Duration;

/// The PutRecords entries for a batch. Built before the request is sent, so that the batch
/// itself stays with the producer whatever becomes of the request.
pub fn request_entries(
    batch: &[KinesisRecord],
) -> Result<Vec<PutRecordsRequestEntry>, AttemptError> {
    batch
        .iter()
        .map(|record| {
            PutRecordsRequestEntry::builder()
                .data(Blob::new(record.data.to_vec()))
                .partition_key(&record.partition_key)
                .set_explicit_hash_key(record.explicit_hash_key.map(|k| k.to_string()))
                .build()
                .map_err(|e| AttemptError::new("InvalidArgumentException", e.to_string()))
        })
        .collect()
}

/// A request's answer, or a (retried) timeout error when there is none within `timeout`.
async fn within<T>(timeout: Duration, request: impl Future<Output = T>) -> Result<T, AttemptError> {
    tokio::time::timeout(timeout, request).await.map_err(|_| {
        AttemptError::transient(
            "Timeout",
            format!("no answer within {} ms", timeout.as_millis()),
        )
    })
}

/// Sends one PutRecords request and waits for its answer, at most `timeout`.
pub async fn put_records(
    client: &Client,
    stream: &str,
    entries: Vec<PutRecordsRequestEntry>,
    timeout: Duration,
) -> BatchResult {
    let request = client
        .put_records()
        .stream_name(stream)
        .set_records(Some(entries))
        .send();
    let response = within(timeout, request)
        .await?
        .map_err(classify_sdk_error)?;
    Ok(response
        .records()
        .iter()
        .map(
            |r| match (r.error_code(), r.shard_id(), r.sequence_number()) {
                (None, Some(shard), Some(sequence)) => EntryResult::Ok {
                    shard_id: shard.to_string(),
                    sequence_number: sequence.to_string(),
                },
                (code, _, _) => EntryResult::Err(AttemptError::new(
                    code.unwrap_or("MalformedResponse"),
                    r.error_message().unwrap_or_default(),
                )),
            },
        )
        .collect())
}

/// What one PutRecord call sends, taken from a Kinesis record before the call so that the
/// record itself stays with the producer.
pub struct Entry {
    data: Blob,
    partition_key: String,
    explicit_hash_key: Option<String>,
}

impl Entry {
    pub fn of(record: &KinesisRecord) -> Entry {
        Entry {
            data: Blob::new(record.data.to_vec()),
            partition_key: record.partition_key.clone(),
            explicit_hash_key: record.explicit_hash_key.map(|k| k.to_string()),
        }
    }
}

/// Sends one record with PutRecord and waits for its answer, at most `timeout`: a batch result
/// of one entry (a refusal of the record, throttling included, is the entry's error).
pub async fn put_record(
    client: &Client,
    stream: &str,
    entry: Entry,
    timeout: Duration,
) -> BatchResult {
    let request = client
        .put_record()
        .stream_name(stream)
        .data(entry.data)
        .partition_key(entry.partition_key)
        .set_explicit_hash_key(entry.explicit_hash_key)
        .send();
    let entry = match within(timeout, request).await? {
        Ok(answer) => EntryResult::Ok {
            shard_id: answer.shard_id().to_string(),
            sequence_number: answer.sequence_number().to_string(),
        },
        // The record's own refusals, as PutRecords reports them per entry.
        Err(SdkError::ServiceError(context))
            if context.err().is_provisioned_throughput_exceeded_exception()
                || context.err().is_internal_failure_exception() =>
        {
            let err = context.err();
            EntryResult::Err(AttemptError::new(
                err.code().unwrap_or("ServiceError"),
                err.message().unwrap_or_default(),
            ))
        }
        Err(error) => return Err(classify_sdk_error(error)),
    };
    Ok(vec![entry])
}

/// Maps an SDK error to an attempt error: the service's code where there is one, otherwise a
/// transport failure (always retried).
pub fn classify_sdk_error<E, R>(error: SdkError<E, R>) -> AttemptError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match &error {
        SdkError::ServiceError(context) => {
            let err = context.err();
            match err.code() {
                Some(code) => AttemptError::new(code, err.message().unwrap_or_default()),
                None => AttemptError::transient("ServiceError", format!("{error:?}")),
            }
        }
        SdkError::TimeoutError(_) => AttemptError::transient("Timeout", "request timed out"),
        SdkError::DispatchFailure(failure) => AttemptError::transient(
            "ConnectionError",
            failure
                .as_other()
                .map(|o| format!("{o:?}"))
                .unwrap_or_else(|| describe(&error)),
        ),
        SdkError::ResponseError(_) => AttemptError::transient("ResponseError", describe(&error)),
        SdkError::ConstructionFailure(_) => AttemptError {
            kind: ErrorKind::Fatal,
            code: "RequestConstructionFailure".into(),
            message: describe(&error),
        },
        _ => AttemptError::transient("Unknown", describe(&error)),
    }
}
