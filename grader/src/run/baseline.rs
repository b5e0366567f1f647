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
}
