//! Rate shapes: how many records per second to send over time, and when record `n` is due.

use std::f64::consts::TAU;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum RateShape {
    /// R records/s throughout.
    Constant(f64),
    /// From one rate to another, linearly over a time, then holding the second.
    Ramp { from: f64, to: f64, over: f64 },
    /// R records/s for `on` seconds, then nothing for `off` seconds, repeating.
    Burst { rate: f64, on: f64, off: f64 },
    /// A sine wave between two rates with a period.
    Sine { low: f64, high: f64, period: f64 },
    /// As fast as the producer accepts records (backpressure sets the pace).
    Max,
}

#[derive(Debug, thiserror::Error)]
#[error("--rate {spec:?}: {message}; use R, constant:R, ramp:FROM:TO:SECS, burst:R:ON_SECS:OFF_SECS, sine:LOW:HIGH:PERIOD_SECS or max")]
pub struct RateError {
    spec: String,
    message: String,
}

impl FromStr for RateShape {
    type Err = RateError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |message: &str| RateError {
            spec: spec.to_string(),
            message: message.to_string(),
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let numbers = |parts: &[&str]| -> Result<Vec<f64>, RateError> {
            parts
                .iter()
                .map(|p| {
                    p.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0 && *v <= 10_000_000.0)
                        .ok_or_else(|| err(&format!("{p:?} is not a number from 0 to 10000000")))
                })
                .collect()
        };
        let shape = match parts.as_slice() {
            ["max"] => RateShape::Max,
            [r] | ["constant", r] => RateShape::Constant(numbers(&[r])?[0]),
            ["ramp", rest @ ..] if rest.len() == 3 => {
                let v = numbers(rest)?;
                RateShape::Ramp {
                    from: v[0],
                    to: v[1],
                    over: v[2],
                }
            }
            ["burst", rest @ ..] if rest.len() == 3 => {
                let v = numbers(rest)?;
                RateShape::Burst {
                    rate: v[0],
                    on: v[1],
                    off: v[2],
                }
            }
            ["sine" | "periodic", rest @ ..] if rest.len() == 3 => {
                let v = numbers(rest)?;
                RateShape::Sine {
                    low: v[0].min(v[1]),
                    high: v[0].max(v[1]),
                    period: v[2],
                }
            }
            _ => return Err(err("not a rate shape")),
        };
        let ok = match shape {
            RateShape::Constant(r) => r > 0.0,
            RateShape::Ramp { from, to, over } => over > 0.0 && (from > 0.0 || to > 0.0),
            RateShape::Burst { rate, on, .. } => rate > 0.0 && on > 0.0,
            RateShape::Sine { high, period, .. } => high > 0.0 && period > 0.0,
            RateShape::Max => true,
        };
        if ok {
            Ok(shape)
        } else {
            Err(err("the rate, and every duration, must be above 0"))
        }
    }
}

impl std::fmt::Display for RateShape {
    /// The shape as `--rate` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            RateShape::Constant(r) => write!(f, "{r}"),
            RateShape::Ramp { from, to, over } => write!(f, "ramp:{from}:{to}:{over}"),
            RateShape::Burst { rate, on, off } => write!(f, "burst:{rate}:{on}:{off}"),
            RateShape::Sine { low, high, period } => write!(f, "sine:{low}:{high}:{period}"),
            RateShape::Max => write!(f, "max"),
        }
    }
}

impl RateShape {
    /// The same shape with every rate multiplied by `factor` (durations unchanged).
    pub fn scaled(&self, factor: f64) -> RateShape {
        match *self {
            RateShape::Constant(r) => RateShape::Constant(r * factor),
            RateShape::Ramp { from, to, over } => RateShape::Ramp {
                from: from * factor,
                to: to * factor,
                over,
            },
            RateShape::Burst { rate, on, off } => RateShape::Burst {
                rate: rate * factor,
                on,
                off,
            },
            RateShape::Sine { low, high, period } => RateShape::Sine {
                low: low * factor,
                high: high * factor,
                period,
            },
            RateShape::Max => RateShape::Max,
        }
    }

    /// The target rate at `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        match *self {
            RateShape::Constant(r) => r,
            RateShape::Ramp { from, to, over } => from + (to - from) * (t / over).min(1.0),
            RateShape::Burst { rate, on, off } => {
                if t % (on + off) < on {
                    rate
                } else {
                    0.0
                }
            }
            RateShape::Sine { low, high, period } => {
                let (mid, amp) = ((low + high) / 2.0, (high - low) / 2.0);
                mid + amp * (TAU * t / period).sin()
            }
            RateShape::Max => f64::INFINITY,
        }
    }

    /// Records due by `t` seconds: the integral of the rate from 0 to `t`.
    pub fn records_by(&self, t: f64) -> f64 {
        match *self {
            RateShape::Constant(r) => r * t,
            RateShape::Ramp { from, to, over } => {
                let ramp = t.min(over);
                from * ramp + (to - from) * ramp * ramp / (2.0 * over) + to * (t - over).max(0.0)
            }
            RateShape::Burst { rate, on, off } => {
                let period = on + off;
                let cycles = (t / period).floor();
                rate * (cycles * on + (t - cycles * period).min(on))
            }
            RateShape::Sine { low, high, period } => {
                let (mid, amp) = ((low + high) / 2.0, (high - low) / 2.0);
                mid * t + amp * period / TAU * (1.0 - (TAU * t / period).cos())
            }
            RateShape::Max => f64::INFINITY,
        }
    }

    /// When record `n` (from 0) is due, counted from the start.
    pub fn due(&self, n: u64) -> Due {
        match *self {
            RateShape::Max => return Due::Now,
            _ if n == 0 => return Due::At(Duration::ZERO),
            RateShape::Constant(r) => return Due::after_secs(n as f64 / r),
            _ => {}
        }
        let target = n as f64;
        // The integral never falls: find an upper bound, then bisect. A shape that levels off
        // (a ramp down to 0) may never reach `n`.
        let mut hi = 1.0;
        while self.records_by(hi) < target {
            hi *= 2.0;
            if hi > LAST_DUE_SECS {
                return Due::Never;
            }
        }
        let mut lo = 0.0;
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if self.records_by(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Due::after_secs(hi)
    }
}

/// Past this many seconds from the start (about 300 years) a record counts as never due.
const LAST_DUE_SECS: f64 = 1e10;

/// When a record is due under a rate shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Due {
    /// As soon as the producer takes it (`max`).
    Now,
    /// This long after the start.
    At(Duration),
    /// Never: the shape has sent all it ever will (a ramp down to 0), or the wait is too long to
    /// measure.
    Never,
}

impl Due {
    fn after_secs(secs: f64) -> Due {
        if secs.is_finite() && secs <= LAST_DUE_SECS {
            Due::At(Duration::from_secs_f64(secs.max(0.0)))
        } else {
            Due::Never
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(spec: &str) -> RateShape {
        spec.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn shapes_print_as_they_parse_and_scale_their_rates_only() {
        for spec in [
            "500",
            "2.5",
            "ramp:10:100:5",
            "burst:800:2:3",
            "sine:100:900:60",
            "max",
        ] {
            assert_eq!(shape(spec).to_string(), spec);
            assert_eq!(shape(&shape(spec).to_string()), shape(spec));
        }
        assert_eq!(shape("burst:800:2:3").scaled(0.5), shape("burst:400:2:3"));
        assert_eq!(shape("ramp:10:100:5").scaled(2.0), shape("ramp:20:200:5"));
    }

    #[test]
    fn shapes_parse_and_bad_ones_say_why() {
        assert_eq!(shape("500"), RateShape::Constant(500.0));
        assert_eq!(shape("constant:2.5"), RateShape::Constant(2.5));
        assert_eq!(shape("max"), RateShape::Max);
        assert_eq!(
            shape("ramp:10:100:5"),
            RateShape::Ramp {
                from: 10.0,
                to: 100.0,
                over: 5.0
            }
        );
        assert_eq!(
            shape("sine:900:100:10"),
            RateShape::Sine {
                low: 100.0,
                high: 900.0,
                period: 10.0
            }
        );
        for bad in [
            "0",
            "-5",
            "fast",
            "ramp:1:2",
            "burst:100:0:1",
            "sine:1:2:0",
            "constant:nan",
        ] {
            let err = bad.parse::<RateShape>().unwrap_err();
            assert!(err.to_string().contains("--rate"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_integral_matches_a_numeric_sum_of_the_rate() {
        for spec in [
            "500",
            "ramp:100:1000:4",
            "burst:2000:0.5:1.5",
            "sine:100:1000:3",
        ] {
            let s = shape(spec);
            let dt = 1e-4;
            let numeric: f64 = (0..100_000)
                .map(|i| s.rate_at((i as f64 + 0.5) * dt) * dt)
                .sum();
            let exact = s.records_by(10.0);
            assert!(
                (numeric - exact).abs() / exact < 1e-3,
                "{spec}: {numeric} vs {exact}"
            );
        }
    }

    fn secs(due: Due) -> f64 {
        match due {
            Due::At(d) => d.as_secs_f64(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_shape_that_levels_off_or_crawls_says_never_instead_of_waiting_forever() {
        // 100 -> 0 over 0.1 s: its integral reaches 5 at 0.1 s and never 6.
        let down = shape("ramp:100:0:0.1");
        assert!(matches!(down.due(5), Due::At(_)));
        assert_eq!(down.due(6), Due::Never);
        assert_eq!(down.due(u64::MAX), Due::Never);
        assert_eq!(shape("1e-300").due(1_000_000), Due::Never);
        assert_eq!(shape("0.001").due(u64::MAX), Due::Never);
        assert_eq!(shape("burst:0.001:0.001:10000000").due(10), Due::Never);
    }

    #[test]
    fn records_are_due_where_the_integral_reaches_them() {
        assert_eq!(shape("max").due(5), Due::Now);
        assert_eq!(shape("100").due(0), Due::At(Duration::ZERO));
        let due = secs(shape("100").due(250));
        assert!((due - 2.5).abs() < 1e-6, "{due}");
        // Nothing is due during a burst's off time.
        let burst = shape("burst:1000:1:2");
        let after_first_burst = secs(burst.due(1000));
        let first_of_second = secs(burst.due(1001));
        assert!(
            after_first_burst <= 1.0 + 1e-6 && first_of_second >= 3.0,
            "{after_first_burst} {first_of_second}"
        );
        let ramp = shape("ramp:0:100:10");
        // 0 -> 100 over 10 s is 500 records; the 125th is due at 5 s.
        assert!((secs(ramp.due(125)) - 5.0).abs() < 1e-6);
    }
}
