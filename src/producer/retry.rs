//! Retry policy: which errors are worth retrying, and how long to wait before the next attempt.

use rand::Rng;
use std::time::Duration;

/// How an error should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The shard (or account) is over its limit: slow down and retry.
    Throttled,
    /// A transient failure (timeouts, resets, 5xx, internal failures): retry.
    Transient,
    /// Retrying cannot help (missing stream, access, bad argument, KMS setup): fail at once.
    Fatal,
}

/// An error from one attempt, for one record or a whole request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptError {
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
}

impl AttemptError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> AttemptError {
        let code = code.into();
        AttemptError {
            kind: classify(&code),
            code,
            message: message.into(),
        }
    }

    pub fn transient(code: impl Into<String>, message: impl Into<String>) -> AttemptError {
        AttemptError {
            kind: ErrorKind::Transient,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn summary(&self) -> String {
        if self.message.is_empty() {
            self.code.clone()
        } else {
            format!("{}: {}", self.code, self.message)
        }
    }
}

/// Classifies a Kinesis error code.
pub fn classify(code: &str) -> ErrorKind {
    match code {
        "ProvisionedThroughputExceededException"
        | "LimitExceededException"
        | "KMSThrottlingException"
        | "ThrottlingException" => ErrorKind::Throttled,
        "ResourceNotFoundException"
        | "AccessDeniedException"
        | "InvalidArgumentException"
        | "ValidationException"
        | "KMSDisabledException"
        | "KMSInvalidStateException"
        | "KMSNotFoundException"
        | "KMSAccessDeniedException"
        | "KMSOptInRequired"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "MissingAuthenticationTokenException" => ErrorKind::Fatal,
        _ => ErrorKind::Transient,
    }
}

/// The delay before attempt `attempts + 1`: exponential from `base`, capped at `max`, with the
/// upper half jittered so that retries of one batch spread out but never come at once.
pub fn backoff(attempts: u32, base: Duration, max: Duration, rng: &mut impl Rng) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let ceiling = base.saturating_mul(1 << exp).min(max);
    let half = ceiling / 2;
    half + half.mul_f64(rng.gen::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::SmallRng, SeedableRng};

    #[test]
    fn codes_are_classified() {
        assert_eq!(
            classify("ProvisionedThroughputExceededException"),
            ErrorKind::Throttled
        );
        assert_eq!(classify("InternalFailure"), ErrorKind::Transient);
        assert_eq!(classify("ResourceNotFoundException"), ErrorKind::Fatal);
        assert_eq!(classify("KMSAccessDeniedException"), ErrorKind::Fatal);
    }

    #[test]
    fn backoff_grows_then_caps_and_stays_in_the_upper_half() {
        let mut rng = SmallRng::seed_from_u64(7);
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        for attempts in 1..30 {
            let ceiling = (base * 2u32.pow((attempts - 1).min(20))).min(max);
            for _ in 0..50 {
                let d = backoff(attempts, base, max, &mut rng);
                assert!(
                    d >= ceiling / 2 && d <= ceiling,
                    "attempt {attempts}: {d:?}"
                );
            }
        }
    }
}
