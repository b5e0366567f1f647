//! `recovery`: how long after a stage's start latency was back near the first stage's
//! level and stayed there, read from the timeline's windows; and, when it was not, what
//! happened in words.

use grader_report::{StageReport, Timeline, TimelineStage, Window};

/// How a stage recovered: when latency was back near the first stage's level.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recovery {
    /// From the stage's start; none when it never came back within the stage.
    pub ms: Option<u64>,
    /// The last window of the stage that had requests: its median and errors.
    pub last_p50_ms: Option<f64>,
    pub last_errors: u64,
    pub last_due: u64,
}

/// "Near" the first stage's level: a window's median at most twice the first stage's
/// p95 plus 20 ms, and no error. The median, not the p95: a queue left by a spike delays
/// every request of a window, a busy machine's scheduler one or two of them (a window of
/// a 10/s stage holds 2 or 3 requests, so its p95 is its slowest request, and one late
/// request near the end of `after` would read as latency that never came back). The
/// 20 ms keep a 1 ms baseline from being broken by a hiccup of the scheduler.
pub(crate) fn near(w: &Window, base_p95_ms: f64) -> bool {
    w.errors == 0 && w.p50_ms.is_none_or(|p| p <= 2.0 * base_p95_ms + 20.0)
}

/// The time from `stage`'s start until every later window of the stage is near the
/// first stage's level. A window belongs to the stage when its middle lies in it.
pub(crate) fn recovery(t: &Timeline, stage: &TimelineStage, base_p95_ms: f64) -> Recovery {
    let half = t.window_ms / 2;
    let inside: Vec<&Window> = t
        .windows
        .iter()
        .filter(|w| (stage.start_ms..stage.end_ms).contains(&(w.start_ms + half)))
        .collect();
    let last = inside.iter().rev().find(|w| w.due > 0);
    let (last_p50_ms, last_errors, last_due) =
        last.map_or((None, 0, 0), |w| (w.p50_ms, w.errors, w.due));
    let ms = match inside.iter().rposition(|w| !near(w, base_p95_ms)) {
        None => Some(0),
        Some(k) if k + 1 == inside.len() => None,
        Some(k) => Some((inside[k].start_ms + t.window_ms).saturating_sub(stage.start_ms)),
    };
    Recovery {
        ms,
        last_p50_ms,
        last_errors,
        last_due,
    }
}

/// What happened, for a failed `recovery` threshold on `stage` (after `before`):
/// latency that did not come back (or came back late), and the errors of both stages
/// by kind, so a server that stopped answering is told apart from a slow one.
pub(crate) fn note(
    r: &Recovery,
    before: &StageReport,
    stage: &StageReport,
    first: &StageReport,
) -> String {
    let base = format!("{} in `{}`", ms(first.latency_ms.p95), first.name);
    let mut parts = vec![match (r.ms, r.last_p50_ms) {
        (Some(at), _) => format!(
            "latency came back {} into `{}` (p95 {base})",
            ms(at as f64),
            stage.name
        ),
        (None, _) if r.last_errors > 0 => format!(
            "the server did not come back after `{}`: {} of the last {} requests of `{}` failed",
            before.name, r.last_errors, r.last_due, stage.name
        ),
        (None, Some(p50)) => format!(
            "latency did not come back after `{}`: the median was {} at the end of `{}`, p95 {base}",
            before.name,
            ms(p50),
            stage.name
        ),
        (None, _) => format!(
            "latency did not come back after `{}`: no request was due at the end of `{}`",
            before.name, stage.name
        ),
    }];
    if let Some(errors) = errors_of(&[before, stage]) {
        parts.push(errors);
    }
    parts.join("; ")
}

/// The errors of `stages` by kind, in words: "the server stopped answering: 312
/// connection refused during `spike`" (a server that answered with errors "requests
/// failed: ..."); none when no request failed.
pub(crate) fn errors_of(stages: &[&StageReport]) -> Option<String> {
    let failed: Vec<String> = stages
        .iter()
        .filter(|s| !s.errors_by_kind.is_empty())
        .map(|s| {
            let kinds: Vec<String> = s
                .errors_by_kind
                .iter()
                .map(|(k, n)| format!("{n} {}", kind_words(k)))
                .collect();
            format!("{} during `{}`", kinds.join(", "), s.name)
        })
        .collect();
    if failed.is_empty() {
        return None;
    }
    let silent = stages.iter().any(|s| {
        ["refused", "reset", "timeout"]
            .iter()
            .any(|k| s.errors_by_kind.contains_key(*k))
    });
    let lead = if silent {
        "the server stopped answering"
    } else {
        "requests failed"
    };
    Some(format!("{lead}: {}", failed.join("; ")))
}

/// An error kind of the report, in words.
fn kind_words(kind: &str) -> &str {
    match kind {
        "4xx" => "answers of 4xx",
        "5xx" => "answers of 5xx",
        "timeout" => "timed out",
        "refused" => "connection refused",
        "reset" => "connection reset",
        _ => "other errors",
    }
}

/// A duration for a sentence: `9ms`, `2.4s`.
fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1}s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0}ms")
    } else {
        format!("{v:.1}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(p50s: &[Option<f64>], errors: &[u64]) -> Timeline {
        Timeline {
            window_ms: 250,
            stages: Vec::new(),
            windows: p50s
                .iter()
                .zip(errors)
                .enumerate()
                .map(|(k, (p, e))| Window {
                    start_ms: k as u64 * 250,
                    due: u64::from(p.is_some()),
                    errors: *e,
                    p50_ms: *p,
                    p95_ms: p.map(|p| p * 10.0),
                    ..Window::default()
                })
                .collect(),
        }
    }

    #[test]
    fn recovery_is_when_latency_is_back_and_stays() {
        let after = TimelineStage {
            name: "after".into(),
            start_ms: 500,
            end_ms: 2000,
        };
        let slow = Some(300.0);
        let fast = Some(2.0);
        // Windows 0-1 before the stage; the stage is windows 2..8.
        let t = timeline(&[fast, slow, slow, slow, fast, slow, fast, fast], &[0; 8]);
        let r = recovery(&t, &after, 1.0);
        assert_eq!(r.ms, Some(1000), "back after the window at 1250 ms");
        let t = timeline(&[fast, slow, fast, fast, fast, fast, fast, slow], &[0; 8]);
        assert_eq!(recovery(&t, &after, 1.0).ms, None, "slow at the end: never");
        assert_eq!(recovery(&t, &after, 1.0).last_p50_ms, Some(300.0));
        let t = timeline(&[fast; 8], &[0, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(
            recovery(&t, &after, 1.0).ms,
            Some(750),
            "an error is not near"
        );
        let t = timeline(&[fast; 8], &[0; 8]);
        assert_eq!(recovery(&t, &after, 1.0).ms, Some(0));
        // 2 x 10 ms + 20 ms: 40 ms is still near, 41 ms is not.
        let t = timeline(&[Some(41.0), Some(40.0)], &[0, 0]);
        let all = TimelineStage {
            name: "all".into(),
            start_ms: 0,
            end_ms: 500,
        };
        assert_eq!(recovery(&t, &all, 10.0).ms, Some(250));
    }
}
