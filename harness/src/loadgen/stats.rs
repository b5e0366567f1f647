//! Fixed-size latency histograms (HdrHistogram) and error counts: memory does not grow
//! with the length of a run.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use grader_report::{Bucket, Latency};

use super::conn::ErrorKind;

/// Microseconds, up to a minute, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

#[derive(Debug)]
pub(crate) struct StageStats {
    pub corrected: Histogram<u64>,
    pub uncorrected: Histogram<u64>,
    pub ok: u64,
    pub errors: BTreeMap<ErrorKind, u64>,
}

impl StageStats {
    pub fn new() -> StageStats {
        StageStats {
            corrected: histogram(),
            uncorrected: histogram(),
            ok: 0,
            errors: BTreeMap::new(),
        }
    }

    pub fn requests(&self) -> u64 {
        self.ok + self.errors.values().sum::<u64>()
    }

    pub fn merge(&mut self, other: &StageStats) {
        let _ = self.corrected.add(&other.corrected);
        let _ = self.uncorrected.add(&other.uncorrected);
        self.ok += other.ok;
        for (k, v) in &other.errors {
            *self.errors.entry(*k).or_default() += v;
        }
    }
}

pub(crate) fn latency(h: &Histogram<u64>) -> Latency {
    let ms = |us: u64| us as f64 / 1000.0;
    let q = |p: f64| ms(h.value_at_quantile(p));
    Latency {
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
        p999: q(0.999),
        max: ms(h.max()),
        mean: (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
    }
}

/// Doubling buckets from 0.1 ms, for a chart.
pub(crate) fn buckets(h: &Histogram<u64>) -> Vec<Bucket> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_log(100, 2.0)
        .map(|v| Bucket {
            le_ms: v.value_iterated_to() as f64 / 1000.0,
            count: v.count_since_last_iteration(),
        })
        .collect()
}
