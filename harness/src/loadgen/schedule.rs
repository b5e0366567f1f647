//! When each request of an open-model run is due: a start rate and stages that hold a
//! rate or ramp linearly to a target (k6's ramping-arrival-rate). Times are computed
//! from the request's index, so nothing is stored per request.

use std::time::Duration;

/// One piece of the profile: the rate goes from `r0` to `r1` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub duration: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Segment {
    /// A constant `rate` for `duration`.
    pub fn hold(duration: Duration, rate: f64) -> Segment {
        Segment {
            duration: duration.as_secs_f64(),
            r0: rate,
            r1: rate,
        }
    }

    fn count(&self) -> f64 {
        (self.r0 + self.r1) / 2.0 * self.duration
    }

    /// Seconds into the segment at which `n` requests are due (n <= count).
    fn time_for(&self, n: f64) -> f64 {
        let slope = (self.r1 - self.r0) / self.duration;
        if slope.abs() < 1e-12 {
            return if self.r0 > 0.0 {
                n / self.r0
            } else {
                self.duration
            };
        }
        // r0 t + slope t^2 / 2 = n
        let a = slope / 2.0;
        let disc = (self.r0 * self.r0 + 4.0 * a * n).max(0.0);
        ((-self.r0 + disc.sqrt()) / (2.0 * a)).clamp(0.0, self.duration)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    segments: Vec<Segment>,
    /// Requests due before each segment.
    before: Vec<f64>,
    starts: Vec<f64>,
}

impl Schedule {
    pub fn new(segments: Vec<Segment>) -> Schedule {
        let mut before = Vec::with_capacity(segments.len());
        let mut starts = Vec::with_capacity(segments.len());
        let (mut n, mut t) = (0.0, 0.0);
        for s in &segments {
            before.push(n);
            starts.push(t);
            n += s.count();
            t += s.duration;
        }
        Schedule {
            segments,
            before,
            starts,
        }
    }

    /// A constant rate for a duration.
    pub fn constant(rate: f64, duration: Duration) -> Schedule {
        Schedule::new(vec![Segment::hold(duration, rate)])
    }

    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).sum()
    }

    pub fn total_requests(&self) -> f64 {
        self.segments.iter().map(Segment::count).sum()
    }

    /// Seconds from the start at which request `i` (0-based) is due; `None` past the end.
    pub fn time_of(&self, i: u64) -> Option<f64> {
        let n = i as f64;
        let k = self.before.partition_point(|b| *b <= n).checked_sub(1)?;
        let seg = &self.segments[k];
        let within = n - self.before[k];
        if within >= seg.count() {
            return None;
        }
        Some(self.starts[k] + seg.time_for(within))
    }

    /// Which segment holds time `t`.
    pub fn segment_at(&self, t: f64) -> usize {
        self.starts.partition_point(|s| *s <= t).saturating_sub(1)
    }

    /// The mean target rate over segments `range` (requests due / their duration).
    pub fn mean_rate(&self, range: std::ops::Range<usize>) -> f64 {
        let segs = &self.segments[range];
        let d: f64 = segs.iter().map(|s| s.duration).sum();
        if d > 0.0 {
            segs.iter().map(Segment::count).sum::<f64>() / d
        } else {
            0.0
        }
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_spaces_requests_evenly() {
        let s = Schedule::constant(100.0, Duration::from_secs(2));
        assert_eq!(s.time_of(0), Some(0.0));
        assert!((s.time_of(50).unwrap() - 0.5).abs() < 1e-9);
        assert!(s.time_of(199).is_some());
        assert_eq!(s.time_of(200), None);
        assert_eq!(s.total_requests(), 200.0);
    }

    #[test]
    fn ramp_and_spike() {
        // 0 -> 100/s over 2s (100 requests), then 500/s for 1s, then 100/s for 1s.
        let s = Schedule::new(vec![
            Segment {
                duration: 2.0,
                r0: 0.0,
                r1: 100.0,
            },
            Segment {
                duration: 1.0,
                r0: 500.0,
                r1: 500.0,
            },
            Segment {
                duration: 1.0,
                r0: 100.0,
                r1: 100.0,
            },
        ]);
        assert_eq!(s.total_requests(), 700.0);
        // Half of the ramp's requests are due at 2/sqrt(2) s.
        assert!((s.time_of(50).unwrap() - 2.0 / 2f64.sqrt()).abs() < 1e-6);
        assert!((s.time_of(100).unwrap() - 2.0).abs() < 1e-9);
        assert!((s.time_of(350).unwrap() - 2.5).abs() < 1e-9);
        assert_eq!(s.segment_at(2.5), 1);
        assert_eq!(s.segment_at(3.5), 2);
        assert!((s.mean_rate(1..3) - 300.0).abs() < 1e-9);
        // Times never go backwards.
        let mut last = 0.0;
        for i in 0..700 {
            let t = s.time_of(i).unwrap();
            assert!(t >= last);
            last = t;
        }
    }
}
