//! What became of each user record: delivered, or failed with a reason. Exactly one per record.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered(Delivered),
    Failed(Failure),
}

impl Outcome {
    pub fn is_delivered(&self) -> bool {
        matches!(self, Outcome::Delivered(_))
    }

    pub fn attempts(&self) -> u32 {
        match self {
            Outcome::Delivered(d) => d.attempts,
            Outcome::Failed(f) => f.attempts,
        }
    }

    pub fn latency(&self) -> Duration {
        match self {
            Outcome::Delivered(d) => d.latency,
            Outcome::Failed(f) => f.latency,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub shard_id: String,
    pub sequence_number: String,
    /// Position within its aggregate (0 for a plain record), as the KCL numbers it.
    pub sub_sequence_number: u64,
    pub aggregated: bool,
    pub attempts: u32,
    /// From `put` to the service's answer.
    pub latency: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub reason: FailureReason,
    pub attempts: u32,
    pub latency: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailureReason {
    /// Not delivered within the record TTL; carries the last error seen.
    #[error("expired after the record TTL; last error: {last_error}")]
    Expired { last_error: String },
    /// The service refused the request in a way retrying cannot fix.
    #[error("{code}: {message}")]
    Rejected { code: String, message: String },
    /// The producer shut down before the record was delivered.
    #[error("not delivered before shutdown ({0})")]
    Shutdown(String),
    /// The producer itself failed (a panic) while it held the record.
    #[error("{0}")]
    ProducerFailed(String),
}

impl FailureReason {
    /// A short label for counting failures by reason.
    pub fn label(&self) -> String {
        match self {
            FailureReason::Expired { .. } => "Expired".to_string(),
            FailureReason::Rejected { code, .. } => code.clone(),
            FailureReason::Shutdown(_) => "Shutdown".to_string(),
            FailureReason::ProducerFailed(_) => "ProducerFailed".to_string(),
        }
    }
}
