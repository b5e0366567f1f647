//! The reference solution's work figures, committed with each exercise as
//! `exercises/NAME/baseline.json` (check id -> figure name -> value), so that a report
//! shows the submission's figures beside what the reference does. Written from a
//! report of grading the reference (`grader baseline`); an exercise without one shows
//! "reference: n/a".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use grader_report::{CheckResult, Report};

/// Check id -> figure name -> value (per request, or for the step, as in the report).
pub(crate) type Figures = BTreeMap<String, BTreeMap<String, f64>>;

/// The file, in the exercise's folder.
pub(crate) const FILE: &str = "baseline.json";

/// A baseline that is there but cannot be read: the exercise is wrong.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BaselineError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}:{line}:{column}: {message} (expected {{ \"CHECK-ID\": {{ \"statements\": 2.0, ... }} }})",
        path.display()
    )]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// The baseline of the exercise in `dir`; none (empty) when it has no file.
pub(crate) fn load(dir: &Path) -> Result<Figures, BaselineError> {
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Figures::new()),
        Err(source) => return Err(BaselineError::Read { path, source }),
    };
    serde_json::from_str(&text).map_err(|e| BaselineError::Parse {
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or("").into(),
        path,
    })
}

/// The figures of a report (grading the reference): each check's figures, the last
/// counted step's where several steps count the same figure.
pub(crate) fn from_report(report: &Report) -> Figures {
    let mut out = Figures::new();
    for c in &report.checks {
        let mut figures = BTreeMap::new();
        for w in &c.work {
            for f in &w.figures {
                figures.insert(f.name.clone(), f.value);
            }
        }
        if !figures.is_empty() {
            out.insert(c.id.clone(), figures);
        }
    }
    out
}

/// The baseline as committed: pretty JSON, keys sorted, a final newline.
pub(crate) fn to_json(figures: &Figures) -> String {
    let mut s = serde_json::to_string_pretty(figures).expect("maps of numbers serialize");
    s.push('\n');
    s
}

/// The part of `baseline` a report shows: the checks it holds under their own ids (a
/// redacted hidden check is `hidden-N`, so its reference figures stay out).
pub(crate) fn for_checks(baseline: &Figures, checks: &[CheckResult]) -> Figures {
    checks
        .iter()
        .filter(|c| !c.work.is_empty())
        .filter_map(|c| baseline.get(&c.id).map(|f| (c.id.clone(), f.clone())))
        .collect()
}

/// Counts that follow from the reference's code alone: each must stay within 25% (or a
/// quarter of one) of its baseline.
const COUNTS: [&str; 4] = [
    "statements",
    "transactions",
    "redis_commands",
    "upstream_calls",
];

/// Counts that also follow from where PostgreSQL keeps rows and from its statistics,
/// which the class's other databases move: each must stay within a factor of 4 (or 10)
/// of its baseline. A scan that a variant adds moves them fiftyfold and more.
const PAGES: [&str; 2] = ["pages_read", "rows_read"];

/// Whether `figure` measured as `is` is still what a baseline of `was` says.
fn holds(figure: &str, was: f64, is: f64) -> bool {
    if COUNTS.contains(&figure) {
        (is - was).abs() <= (0.25 * was.abs()).max(0.25)
    } else if PAGES.contains(&figure) {
        is <= (4.0 * was).max(was + 10.0) && was <= (4.0 * is).max(is + 10.0)
    } else if figure == "connections_opened" {
        // For the whole step: a pool that grows by a connection or two, or a worker
        // that happens to start its connection during the step (PHP), is not drift;
        // a connection per request is (dozens).
        (is - was).abs() <= (0.25 * was.abs()).max(2.0)
    } else {
        true
    }
}

/// A reference's figure that is no longer what the exercise's `baseline.json` says, so
/// that the figure a learner sees beside their own is stale. `cpu` and `memory_growth`
/// follow the machine and the language's runtime: never compared.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Drift {
    pub(crate) check: String,
    pub(crate) figure: String,
    pub(crate) baseline: f64,
    pub(crate) measured: f64,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: measured {}, baseline.json says {}",
            self.check,
            self.figure,
            round(self.measured),
            round(self.baseline)
        )
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Where the figures of a report of grading the reference are off `baseline`. Only the
/// figures both hold are compared: a check that did not run (`--only`) or a figure that
/// could not be measured is not drift.
pub(crate) fn drift(baseline: &Figures, reference: &Report) -> Vec<Drift> {
    let measured = from_report(reference);
    let mut out = Vec::new();
    for (check, figures) in baseline {
        let Some(now) = measured.get(check) else {
            continue;
        };
        for (figure, &was) in figures {
            let Some(&is) = now.get(figure) else {
                continue;
            };
            let off = !holds(figure, was, is);
            if off {
                out.push(Drift {
                    check: check.clone(),
                    figure: figure.clone(),
                    baseline: was,
                    measured: is,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder of its own under the system's temporary folder.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("grader-baseline-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

    #[test]
    fn a_missing_file_is_no_baseline_and_a_bad_one_points_at_its_place() {
        let dir = scratch("bad");
        assert_eq!(load(&dir).expect("none"), Figures::new());
        std::fs::write(
            dir.join(FILE),
            "{\n  \"list-page\": { \"statements\": \"two\" }\n}\n",
        )
        .expect("write");
        let e = load(&dir).unwrap_err().to_string();
        assert!(e.contains("baseline.json:2:"), "{e}");
        assert!(e.contains("expected { \"CHECK-ID\""), "{e}");
    }

    #[test]
    fn a_report_becomes_a_baseline_that_reads_back() {
        let mut r = crate::report::fixture::report();
        r.checks[3].work = vec![grader_report::WorkReport {
            step: 2,
            requests: 100,
            errors: Vec::new(),
            top_statements: Vec::new(),
            figures: vec![grader_report::WorkFigure {
                name: "statements".into(),
                value: 2.0,
                per_request: true,
                count: 200,
                source: "pg_stat_statements".into(),
            }],
        }];
        let figures = from_report(&r);
        let dir = scratch("back");
        std::fs::write(dir.join(FILE), to_json(&figures)).expect("write");
        let back = load(&dir).expect("reads");
        assert_eq!(back, figures);
        assert_eq!(back[&r.checks[3].id]["statements"], 2.0);
        assert_eq!(for_checks(&back, &r.checks).len(), 1);
    }

    #[test]
    fn counts_that_moved_are_drift_and_machine_figures_never_are() {
        let mut r = crate::report::fixture::report();
        let figure = |name: &str, value: f64| grader_report::WorkFigure {
            name: name.into(),
            value,
            per_request: true,
            count: 0,
            source: "test".into(),
        };
        r.checks[3].work = vec![grader_report::WorkReport {
            step: 2,
            requests: 100,
            errors: Vec::new(),
            top_statements: Vec::new(),
            figures: vec![
                figure("statements", 2.0),
                figure("transactions", 1.2),
                figure("pages_read", 40.0),
                figure("connections_opened", 1.0),
                figure("cpu", 90.0),
            ],
        }];
        let id = r.checks[3].id.clone();
        let base = |pairs: &[(&str, f64)]| -> Figures {
            [(
                id.clone(),
                pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
            )]
            .into()
        };
        // As measured, or within the tolerances: no drift.
        let same = base(&[
            ("statements", 2.0),
            ("transactions", 1.0),
            ("pages_read", 20.0),
            ("connections_opened", 0.0),
            ("cpu", 1.0),
            ("rows_read", 5.0),
        ]);
        assert_eq!(drift(&same, &r), Vec::new());
        // One statement more per request, or a scan's hundredfold pages: drift.
        let off = drift(
            &base(&[
                ("statements", 1.0),
                ("pages_read", 0.4),
                ("connections_opened", 40.0),
            ]),
            &r,
        );
        let names: Vec<&str> = off.iter().map(|d| d.figure.as_str()).collect();
        assert_eq!(names, ["connections_opened", "pages_read", "statements"]);
        assert_eq!(
            off[2].to_string(),
            format!("{id} statements: measured 2, baseline.json says 1")
        );
        // A check the reference did not run is not compared.
        let other: Figures = [(
            "not-run".to_string(),
            [("statements".to_string(), 9.0)].into(),
        )]
        .into();
        assert_eq!(drift(&other, &r), Vec::new());
    }
}
