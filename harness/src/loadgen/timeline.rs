//! The run window by window, for the profile and for `recovery`: a fixed number of
//! windows (at most [`MAX_WINDOWS`], widened for a long run), each with a small HDR
//! histogram, so memory does not grow with the run's length.

use hdrhistogram::Histogram;

use grader_report::{Timeline, TimelineStage, Window};

/// However long the run, it has at most this many windows.
pub(crate) const MAX_WINDOWS: usize = 240;
/// The narrowest window; wider ones are multiples of it.
const MIN_WINDOW_MS: u64 = 250;

/// Microseconds up to a minute, 2 significant digits (1%): enough for a chart and for
/// "back near the first stage's level", at about 10 KB a window.
fn histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, 60_000_000, 2).expect("valid bounds")
}

struct Slot {
    due: u64,
    answered: u64,
    errors: u64,
    latency: Histogram<u32>,
}

/// Records samples into the windows of a run of a known length.
pub(crate) struct Recorder {
    window_ms: u64,
    slots: Vec<Slot>,
}

impl Recorder {
    /// Windows for a run of `total_ms` (schedule included, warm-up too).
    pub fn new(total_ms: u64) -> Recorder {
        let window_ms = window_for(total_ms);
        let count = total_ms.div_ceil(window_ms).max(1) as usize;
        Recorder {
            window_ms,
            slots: (0..count)
                .map(|_| Slot {
                    due: 0,
                    answered: 0,
                    errors: 0,
                    latency: histogram(),
                })
                .collect(),
        }
    }

    fn index(&self, us: u64) -> usize {
        ((us / 1000 / self.window_ms) as usize).min(self.slots.len() - 1)
    }

    /// A request due `due_us` after the start (sent, in the closed model), completed
    /// `done_us` after it, `latency_us` long.
    pub fn record(&mut self, due_us: u64, done_us: u64, latency_us: u64, error: bool) {
        let at = self.index(due_us);
        let slot = &mut self.slots[at];
        slot.due += 1;
        slot.errors += u64::from(error);
        let _ = slot.latency.record(latency_us.clamp(1, 60_000_000));
        let done = self.index(done_us);
        self.slots[done].answered += 1;
    }

    #[cfg(test)]
    pub fn window_count(&self) -> usize {
        self.slots.len()
    }

    pub fn report(&self, stages: Vec<TimelineStage>) -> Timeline {
        let ms = |us: u64| (us as f64 / 10.0).round() / 100.0;
        let windows = self
            .slots
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let q =
                    |p: f64| (!s.latency.is_empty()).then(|| ms(s.latency.value_at_quantile(p)));
                Window {
                    start_ms: k as u64 * self.window_ms,
                    due: s.due,
                    answered: s.answered,
                    errors: s.errors,
                    p50_ms: q(0.5),
                    p95_ms: q(0.95),
                    max_ms: (!s.latency.is_empty()).then(|| ms(s.latency.max())),
                }
            })
            .collect();
        Timeline {
            window_ms: self.window_ms,
            stages,
            windows,
        }
    }
}

/// The window length for a run of `total_ms`: 250 ms, widened in steps of 250 ms until
/// the run has at most [`MAX_WINDOWS`] windows.
pub(crate) fn window_for(total_ms: u64) -> u64 {
    let per = total_ms.div_ceil(MAX_WINDOWS as u64);
    per.div_ceil(MIN_WINDOW_MS).max(1) * MIN_WINDOW_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_bounded_whatever_the_length() {
        for (total_ms, window_ms) in [
            (1_000, 250),
            (60_000, 250),
            (60_001, 500),
            (600_000, 2_500),
            (86_400_000, 360_000),
        ] {
            assert_eq!(window_for(total_ms), window_ms, "{total_ms} ms");
            let r = Recorder::new(total_ms);
            assert!(r.window_count() <= MAX_WINDOWS, "{total_ms} ms");
        }
        // A day-long run records into the same 240 windows as a minute-long one.
        let mut r = Recorder::new(86_400_000);
        for i in 0..100_000u64 {
            r.record(i * 864_000, i * 864_000 + 5_000, 5_000, false);
        }
        assert_eq!(r.window_count(), 240);
        // Each window's histogram is fixed in size (2560 counters of 4 bytes): at most
        // 2.5 MB for the whole timeline, however long the run.
        assert_eq!(histogram().distinct_values(), 2560);
        let t = r.report(Vec::new());
        assert_eq!(t.windows.iter().map(|w| w.due).sum::<u64>(), 100_000);
        assert_eq!(t.windows.iter().map(|w| w.answered).sum::<u64>(), 100_000);
    }
}
