//! k6-style thresholds: `p95 < 150ms`, `error_rate < 1%`, `rate >= 0.95 * target`, and
//! the work the server did: `statements <= 3`, `cpu < 20ms`, `memory_growth < 64MiB`.
//! A failed threshold is a failed check, always; each may carry points.

use std::fmt;

use crate::probe::work::Figure;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Percentile(u32),
    Max,
    Mean,
    ErrorRate,
    Rate,
    /// From a stage's start until latency is back near the first stage's level.
    Recovery,
    /// A work figure, counted around the whole step (judged by the runner once the
    /// counters are read, not by the load generator).
    Work(Figure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn holds(self, actual: f64, bound: f64) -> bool {
        match self {
            Op::Lt => actual < bound,
            Op::Le => actual <= bound,
            Op::Gt => actual > bound,
            Op::Ge => actual >= bound,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// Milliseconds.
    Millis(f64),
    /// A fraction (1% = 0.01).
    Fraction(f64),
    /// Requests per second.
    Rate(f64),
    /// A share of the target rate.
    OfTarget(f64),
    /// In the work figure's unit: a count, milliseconds (`cpu`) or bytes
    /// (`memory_growth`).
    Work(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub src: String,
    pub metric: Metric,
    pub op: Op,
    pub bound: Bound,
}

/// Why a threshold expression could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error("expected `METRIC OP VALUE`, e.g. \"p95 < 150ms\"")]
    Shape,
    #[error("`{0}`: percentiles are p50, p90, p95, p99, p999...")]
    Percentile(String),
    #[error(
        "unknown metric `{0}`: use p50, p90, p95, p99, max, mean, error_rate, rate, recovery, or a work figure (statements, pages_read, rows_read, transactions, connections_opened, redis_commands, upstream_calls, cpu, memory_growth)"
    )]
    UnknownMetric(String),
    #[error("expected `<`, `<=`, `>` or `>=` after the metric")]
    Op,
    #[error("`{0}`: expected a duration such as 150ms or 1s")]
    Duration(String),
    #[error("`{0}`: expected a percentage such as 1%")]
    Percentage(String),
    #[error("`{0}`: not a percentage")]
    NotPercentage(String),
    #[error("`{0}`: expected e.g. 0.95 * target")]
    OfTarget(String),
    #[error("`{0}`: expected requests per second, or e.g. 0.95 * target")]
    Rate(String),
    #[error("`{0}`: expected a number, e.g. 3")]
    Count(String),
    #[error("`{0}`: expected a size such as 64MiB")]
    Bytes(String),
}

impl Threshold {
    pub fn parse(src: &str) -> Result<Threshold, ThresholdError> {
        let s = src.trim();
        let (metric, rest) = s
            .split_once(char::is_whitespace)
            .ok_or(ThresholdError::Shape)?;
        let metric = parse_metric(metric)?;
        let (op, value) = parse_op(rest.trim_start())?;
        let bound = parse_bound(metric, value.trim())?;
        Ok(Threshold {
            src: s.to_string(),
            metric,
            op,
            bound,
        })
    }

    /// The measured value (in the bound's unit) and whether the threshold holds.
    pub fn judge(&self, o: &Summary) -> (f64, bool) {
        let actual = match self.metric {
            Metric::Percentile(p) => {
                o.percentile_ms(f64::from(p) / if p >= 100 { 10.0 } else { 1.0 })
            }
            Metric::Max => o.max_ms,
            Metric::Mean => o.mean_ms,
            Metric::ErrorRate => o.error_rate,
            Metric::Rate => o.rate,
            // Never back: longer than any bound.
            Metric::Recovery => o.recovery_ms.unwrap_or(f64::INFINITY),
            Metric::Work(_) => f64::NAN,
        };
        let bound = match self.bound {
            Bound::Millis(v) | Bound::Fraction(v) | Bound::Rate(v) | Bound::Work(v) => v,
            Bound::OfTarget(f) => f * o.target_rate.unwrap_or(0.0),
        };
        if matches!(self.metric, Metric::Work(_)) {
            return (f64::NAN, false);
        }
        (actual, self.op.holds(actual, bound))
    }

    /// For a work threshold: whether the figure's value holds (the bound in its unit).
    pub fn holds(&self, actual: f64) -> bool {
        match self.bound {
            Bound::Work(b) => self.op.holds(actual, b),
            _ => false,
        }
    }

    /// The measured value in words, in the threshold's unit.
    pub fn show(&self, actual: f64) -> String {
        match self.metric {
            Metric::ErrorRate => format!("{:.2}%", actual * 100.0),
            Metric::Rate => format!("{actual:.1}/s"),
            Metric::Recovery if actual.is_infinite() => "never".into(),
            Metric::Recovery => format!("{actual:.0}ms"),
            Metric::Work(f) => f.show(actual),
            _ => format!("{actual:.2}ms"),
        }
    }
}

fn parse_metric(name: &str) -> Result<Metric, ThresholdError> {
    Ok(match name {
        "max" => Metric::Max,
        "mean" | "avg" => Metric::Mean,
        "error_rate" => Metric::ErrorRate,
        "rate" => Metric::Rate,
        "recovery" => Metric::Recovery,
        work if Figure::parse(work).is_some() => {
            Metric::Work(Figure::parse(work).expect("just parsed"))
        }
        p if p.starts_with('p') && p.len() > 1 => match p[1..].parse::<u32>() {
            Ok(n) if (1..=999).contains(&n) => Metric::Percentile(n),
            _ => return Err(ThresholdError::Percentile(p.to_string())),
        },
        other => return Err(ThresholdError::UnknownMetric(other.to_string())),
    })
}

/// The comparison and the text after it.
fn parse_op(rest: &str) -> Result<(Op, &str), ThresholdError> {
    // Two-character operators first, so `<=` is not read as `<` then `=`.
    [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
        .into_iter()
        .find_map(|(text, op)| rest.strip_prefix(text).map(|v| (op, v)))
        .ok_or(ThresholdError::Op)
}

fn parse_bound(metric: Metric, value: &str) -> Result<Bound, ThresholdError> {
    let bad = |e: fn(String) -> ThresholdError| e(value.to_string());
    Ok(match metric {
        Metric::Percentile(_) | Metric::Max | Metric::Mean | Metric::Recovery => Bound::Millis(
            crate::exercise::parse_duration(value)
                .map(|d| d.as_secs_f64() * 1000.0)
                .ok_or_else(|| bad(ThresholdError::Duration))?,
        ),
        Metric::ErrorRate => {
            let v = value
                .strip_suffix('%')
                .ok_or_else(|| bad(ThresholdError::Percentage))?;
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| bad(ThresholdError::NotPercentage))?;
            Bound::Fraction(v / 100.0)
        }
        Metric::Work(Figure::Cpu) => Bound::Work(
            crate::exercise::parse_duration(value)
                .map(|d| d.as_secs_f64() * 1000.0)
                .ok_or_else(|| bad(ThresholdError::Duration))?,
        ),
        Metric::Work(Figure::MemoryGrowth) => Bound::Work(
            crate::exercise::parse_bytes(value)
                .map(|b| b as f64)
                .ok_or_else(|| bad(ThresholdError::Bytes))?,
        ),
        Metric::Work(_) => Bound::Work(
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(ThresholdError::Count))?,
        ),
        Metric::Rate => match value.split_once('*') {
            Some((f, t)) if t.trim() == "target" => Bound::OfTarget(
                f.trim()
                    .parse()
                    .map_err(|_| bad(ThresholdError::OfTarget))?,
            ),
            _ => Bound::Rate(value.parse().map_err(|_| bad(ThresholdError::Rate))?),
        },
    })
}

/// Figures of a run or stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub quantiles: Vec<(f64, f64)>,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub error_rate: f64,
    pub rate: f64,
    pub target_rate: Option<f64>,
    /// A stage's recovery (none: never came back, or not a stage that is measured).
    pub recovery_ms: Option<f64>,
}

impl Summary {
    /// Latency in ms at percentile `p` (0-100).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        self.quantiles
            .iter()
            .find(|(q, _)| (*q - p).abs() < 1e-9)
            .map_or(self.max_ms, |(_, v)| *v)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            quantiles: vec![(50.0, 2.0), (95.0, 120.0), (99.0, 300.0), (99.9, 500.0)],
            max_ms: 800.0,
            mean_ms: 10.0,
            error_rate: 0.005,
            rate: 96.0,
            target_rate: Some(100.0),
            recovery_ms: Some(1200.0),
        }
    }

    #[test]
    fn parses_and_judges() {
        let cases = [
            ("p95 < 150ms", true),
            ("p99 < 250ms", false),
            ("p999 <= 500ms", true),
            ("max < 1s", true),
            ("error_rate < 1%", true),
            ("error_rate < 0.1%", false),
            ("rate >= 0.95 * target", true),
            ("rate >= 0.99 * target", false),
            ("mean > 5ms", true),
            ("recovery < 3s", true),
            ("recovery < 1s", false),
        ];
        for (src, want) in cases {
            let t = Threshold::parse(src).unwrap();
            assert_eq!(t.judge(&summary()).1, want, "{src}");
        }
        let t = Threshold::parse("recovery < 3s").unwrap();
        let never = Summary {
            recovery_ms: None,
            ..summary()
        };
        let (actual, passed) = t.judge(&never);
        assert!(!passed);
        assert_eq!(t.show(actual), "never");
    }

    #[test]
    fn reads_work_thresholds_with_units() {
        let t = Threshold::parse("cpu < 20ms").unwrap();
        assert_eq!(t.metric, Metric::Work(Figure::Cpu));
        assert_eq!(t.bound, Bound::Work(20.0));
        assert!(t.holds(19.9) && !t.holds(20.0));
        let t = Threshold::parse("memory_growth < 64MiB").unwrap();
        assert_eq!(t.bound, Bound::Work(64.0 * 1024.0 * 1024.0));
        let t = Threshold::parse("statements <= 3").unwrap();
        assert!(t.holds(3.0) && !t.holds(3.01));
        assert!(!t.judge(&summary()).1, "judged by the runner only");
        let t = Threshold::parse("upstream_calls < 0.1").unwrap();
        assert_eq!(t.bound, Bound::Work(0.1));
        for (src, want) in [
            ("statements <= many", "expected a number"),
            ("cpu < 20", "duration"),
            ("memory_growth < big", "size"),
        ] {
            let err = Threshold::parse(src).unwrap_err().to_string();
            assert!(err.contains(want), "{src}: {err}");
        }
    }

    #[test]
    fn explains_bad_thresholds() {
        let cases = [
            ("p95", "METRIC OP VALUE"),
            ("latency < 1s", "unknown metric"),
            ("p95 = 1s", "expected `<`"),
            ("error_rate < 1", "percentage"),
            ("p95 < fast", "duration"),
        ];
        for (src, want) in cases {
            let err = Threshold::parse(src).unwrap_err().to_string();
            assert!(err.contains(want), "{src}: {err}");
        }
    }
}
