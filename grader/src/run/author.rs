//! `grader test`, the exercise author's loop: the subjects of an exercise (its
//! references, legal variants and faulty variants with the checks each declares it
//! loses), and what grading them showed: who is off its declaration, which checks no
//! variant fails (the mutation score), and the check x subject table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use grader_report::{CheckStatus, Report, RunStatus};
use harness::Exercise;

use super::learners::Learner;

/// What a subject is, and so what it must lose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A reference solution (`solutions/NAME`): loses nothing.
    Reference,
    /// Another form of a right answer (`legal/NAME`): loses nothing.
    Legal,
    /// One realistic mistake (`variants/NAME`): loses exactly `fails`.
    Faulty { fails: BTreeSet<String> },
}

/// One submission `grader test` grades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subject {
    /// `solutions-python`, `legal-uuid-ids`, `variants-n-plus-one`: unique, and the name
    /// of its folder in the output.
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) kind: Kind,
}

impl Subject {
    pub(crate) fn declared(&self) -> BTreeSet<String> {
        match &self.kind {
            Kind::Faulty { fails } => fails.clone(),
            _ => BTreeSet::new(),
        }
    }

    pub(crate) fn learner(&self) -> Learner {
        Learner {
            name: self.name.clone(),
            path: self.path.clone(),
            git_ref: None,
        }
    }
}

/// Why an exercise's subjects cannot be listed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SubjectsError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    #[error("{} has no reference solution under solutions/", .0.display())]
    NoReference(PathBuf),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultyManifest {
    #[expect(dead_code, reason = "read so that a manifest without it is an error")]
    description: String,
    fails: Vec<String>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "the variant module reads it when it applies the patch"
    )]
    base: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LegalManifest {
    #[expect(dead_code, reason = "read so that a manifest without it is an error")]
    description: String,
    /// Why this answer is right (the contract's or a standard's words).
    #[expect(dead_code, reason = "read so that a manifest without it is an error")]
    legal: String,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "the variant module reads it when it applies the patch"
    )]
    base: Option<String>,
}

/// The folders directly under `dir`, sorted (none when `dir` does not exist).
fn folders(dir: &Path) -> Result<Vec<PathBuf>, SubjectsError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(SubjectsError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    paths.sort();
    Ok(paths)
}

fn read(path: &Path) -> Result<String, SubjectsError> {
    std::fs::read_to_string(path).map_err(|source| SubjectsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every subject of `exercise`, references first, then legal and faulty variants. A
/// faulty variant that declares a check the exercise does not have is an error.
pub(crate) fn subjects(exercise: &Exercise) -> Result<Vec<Subject>, SubjectsError> {
    let ids: Vec<&str> = exercise.checks.iter().map(|c| c.id.as_str()).collect();
    let mut out = Vec::new();
    for sub in ["solutions", "legal", "variants"] {
        for path in folders(&exercise.dir.join(sub))? {
            let folder = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let manifest = path.join("variant.toml");
            let kind = match sub {
                "solutions" => Kind::Reference,
                "legal" => {
                    toml::from_str::<LegalManifest>(&read(&manifest)?).map_err(|e| {
                        SubjectsError::Manifest {
                            path: manifest.clone(),
                            message: e.message().to_string(),
                        }
                    })?;
                    Kind::Legal
                }
                _ => {
                    let m: FaultyManifest =
                        toml::from_str(&read(&manifest)?).map_err(|e| SubjectsError::Manifest {
                            path: manifest.clone(),
                            message: e.message().to_string(),
                        })?;
                    faulty(&manifest, m.fails, &ids)?
                }
            };
            out.push(Subject {
                name: format!("{sub}-{folder}"),
                path,
                kind,
            });
        }
    }
    if !out.iter().any(|s| s.kind == Kind::Reference) {
        return Err(SubjectsError::NoReference(exercise.dir.join("solutions")));
    }
    Ok(out)
}

fn faulty(manifest: &Path, fails: Vec<String>, ids: &[&str]) -> Result<Kind, SubjectsError> {
    if fails.is_empty() {
        return Err(SubjectsError::Manifest {
            path: manifest.to_path_buf(),
            message: "`fails` is empty: a faulty variant loses at least one check".into(),
        });
    }
    for id in &fails {
        if !ids.contains(&id.as_str()) {
            let near = harness::exercise::did_you_mean(id, ids.iter().copied())
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(SubjectsError::Manifest {
                path: manifest.to_path_buf(),
                message: format!(
                    "`fails` names `{id}`, which is not a check of the exercise{near}"
                ),
            });
        }
    }
    Ok(Kind::Faulty {
        fails: fails.into_iter().collect(),
    })
}

/// What grading one subject showed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Outcome {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    /// The run's status (`graded`, `build_failed`...) or `no report`.
    pub(crate) status: String,
    /// The checks it did not pass (spec ids, hidden ones included).
    pub(crate) lost: BTreeSet<String>,
    pub(crate) declared: BTreeSet<String>,
    /// Why each lost check was lost (the failure's first line).
    pub(crate) why: BTreeMap<String, String>,
}

impl Outcome {
    /// Lost, but not declared.
    pub(crate) fn extra(&self) -> BTreeSet<String> {
        self.lost.difference(&self.declared).cloned().collect()
    }
    /// Declared, but not lost.
    pub(crate) fn missing(&self) -> BTreeSet<String> {
        self.declared.difference(&self.lost).cloned().collect()
    }
    pub(crate) fn on_declaration(&self) -> bool {
        self.status == "graded" && self.lost == self.declared
    }
}

/// What `grader test` found, for the terminal and `test.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Findings {
    pub(crate) exercise: String,
    /// The exercise's checks, in spec order.
    pub(crate) checks: Vec<String>,
    pub(crate) subjects: Vec<Outcome>,
    /// Checks that some faulty variant loses.
    pub(crate) killed: Vec<String>,
    /// Checks that no faulty variant loses.
    pub(crate) survivors: Vec<String>,
    /// Where a reference's work figures are off the exercise's `baseline.json`.
    pub(crate) drift: Vec<super::baseline::Drift>,
}

impl Findings {
    /// Checks failed by some faulty variant, over all checks, in percent.
    pub(crate) fn mutation_score(&self) -> f64 {
        if self.checks.is_empty() {
            return 100.0;
        }
        100.0 * self.killed.len() as f64 / self.checks.len() as f64
    }

    pub(crate) fn off(&self) -> impl Iterator<Item = &Outcome> {
        self.subjects.iter().filter(|o| !o.on_declaration())
    }

    pub(crate) fn all_good(&self) -> bool {
        self.survivors.is_empty() && self.off().next().is_none() && self.drift.is_empty()
    }
}

/// The spec id of a reported check: a redacted `hidden-N` is the Nth hidden check.
fn spec_id(id: &str, hidden: &[&str]) -> String {
    id.strip_prefix("hidden-")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| hidden.get(n.wrapping_sub(1)))
        .map_or_else(|| id.to_string(), |s| (*s).to_string())
}

fn status_word(status: RunStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{status:?}"))
}

/// Judges every subject by its report (`None`: the run wrote none), and the
/// references' work figures by the exercise's `baseline`.
pub(crate) fn findings(
    exercise: &Exercise,
    subjects: &[Subject],
    reports: &BTreeMap<String, Report>,
    only: Option<&[String]>,
    baseline: &super::baseline::Figures,
) -> Findings {
    let hidden: Vec<&str> = exercise
        .checks
        .iter()
        .filter(|c| c.hidden)
        .map(|c| c.id.as_str())
        .collect();
    let mut outcomes = Vec::new();
    // With --only, each subject is judged on the checks that ran.
    let selected = only.map(|ids| harness::selection(exercise, ids));
    let judged = |id: &str| selected.as_ref().is_none_or(|s| s.contains(id));
    for s in subjects {
        let mut declared = s.declared();
        declared.retain(|id| judged(id));
        let (status, lost, why) = match reports.get(&s.name) {
            None => ("no report".to_string(), BTreeSet::new(), BTreeMap::new()),
            Some(r) => {
                let mut lost = BTreeSet::new();
                let mut why = BTreeMap::new();
                for c in r.checks.iter().filter(|c| c.status != CheckStatus::Passed) {
                    let id = spec_id(&c.id, &hidden);
                    let line = c
                        .failure
                        .as_ref()
                        .and_then(|f| f.message.lines().next())
                        .unwrap_or("")
                        .to_string();
                    if !judged(&id) {
                        continue;
                    }
                    why.insert(id.clone(), line);
                    lost.insert(id);
                }
                (status_word(r.status), lost, why)
            }
        };
        outcomes.push(Outcome {
            name: s.name.clone(),
            kind: match s.kind {
                Kind::Reference => "reference",
                Kind::Legal => "legal",
                Kind::Faulty { .. } => "faulty",
            },
            status,
            lost,
            declared,
            why,
        });
    }
    let checks: Vec<String> = exercise.checks.iter().map(|c| c.id.clone()).collect();
    let (killed, survivors) = checks.iter().cloned().partition(|id| {
        outcomes
            .iter()
            .any(|o| o.kind == "faulty" && o.status == "graded" && o.lost.contains(id))
    });
    let drift = subjects
        .iter()
        .filter(|s| s.kind == Kind::Reference)
        .filter_map(|s| reports.get(&s.name))
        .filter(|r| r.status == RunStatus::Graded)
        .flat_map(|r| super::baseline::drift(baseline, r))
        .collect();
    Findings {
        exercise: exercise.name.clone(),
        checks,
        subjects: outcomes,
        killed,
        survivors,
        drift,
    }
}

/// The check x subject table: a row per check, a column per subject (numbered; the
/// legend follows), `x` lost as declared, `.` passed as it should, `!` lost but not
/// declared, `?` declared but passed.
pub(crate) fn table(f: &Findings) -> String {
    let width = f.checks.iter().map(String::len).max().unwrap_or(5).max(5);
    let mut out = String::new();
    let numbers: String = (1..=f.subjects.len())
        .map(|i| char::from_digit(u32::try_from(i % 10).unwrap_or(0), 10).unwrap_or(' '))
        .collect();
    let tens: String = (1..=f.subjects.len())
        .map(|i| {
            if i >= 10 {
                char::from_digit(u32::try_from((i / 10) % 10).unwrap_or(0), 10).unwrap_or(' ')
            } else {
                ' '
            }
        })
        .collect();
    if f.subjects.len() >= 10 {
        out.push_str(&format!("{:width$}  {tens}\n", ""));
    }
    out.push_str(&format!("{:width$}  {numbers}\n", "check"));
    for id in &f.checks {
        let cells: String = f
            .subjects
            .iter()
            .map(|o| match (o.lost.contains(id), o.declared.contains(id)) {
                (true, true) => 'x',
                (false, false) => '.',
                (true, false) => '!',
                (false, true) => '?',
            })
            .collect();
        out.push_str(&format!("{id:width$}  {cells}\n"));
    }
    out.push('\n');
    for (i, o) in f.subjects.iter().enumerate() {
        out.push_str(&format!("{:>3} {}\n", i + 1, o.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, kind: &'static str, lost: &[&str], declared: &[&str]) -> Outcome {
        Outcome {
            name: name.into(),
            kind,
            status: "graded".into(),
            lost: lost.iter().map(|s| (*s).to_string()).collect(),
            declared: declared.iter().map(|s| (*s).to_string()).collect(),
            why: BTreeMap::new(),
        }
    }

    #[test]
    fn off_declaration_and_survivors_are_found() {
        let f = Findings {
            exercise: "x".into(),
            checks: vec!["a".into(), "b".into(), "c".into()],
            subjects: vec![
                outcome("solutions-python", "reference", &[], &[]),
                outcome("variants-one", "faulty", &["a", "b"], &["a"]),
                outcome("variants-two", "faulty", &[], &["c"]),
            ],
            killed: vec!["a".into(), "b".into()],
            survivors: vec!["c".into()],
            drift: Vec::new(),
        };
        let off: Vec<&str> = f.off().map(|o| o.name.as_str()).collect();
        assert_eq!(off, ["variants-one", "variants-two"]);
        assert_eq!(f.subjects[1].extra().into_iter().collect::<Vec<_>>(), ["b"]);
        assert_eq!(
            f.subjects[2].missing().into_iter().collect::<Vec<_>>(),
            ["c"]
        );
        assert!((f.mutation_score() - 66.666).abs() < 0.01);
        assert!(!f.all_good());
        let t = table(&f);
        assert!(t.contains("a      .x.\n"), "{t}");
        assert!(t.contains("b      .!.\n"), "{t}");
        assert!(t.contains("c      ..?\n"), "{t}");
        assert!(t.contains("  2 variants-one\n"), "{t}");
    }

    #[test]
    fn hidden_ids_map_back_in_spec_order() {
        assert_eq!(spec_id("hidden-2", &["p", "q"]), "q");
        assert_eq!(spec_id("hidden-3", &["p", "q"]), "hidden-3");
        assert_eq!(spec_id("plain", &["p"]), "plain");
    }

    #[test]
    fn a_declared_check_that_does_not_exist_is_named() {
        let e = faulty(
            Path::new("v/variant.toml"),
            vec!["helth".into()],
            &["health", "list"],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`helth`") && e.contains("did you mean `health`"),
            "{e}"
        );
        let e = faulty(Path::new("v/variant.toml"), vec![], &["health"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`fails` is empty"), "{e}");
    }

    #[test]
    fn with_only_a_subject_is_judged_on_the_checks_that_ran() {
        let src = "[exercise]\nname = \"toy\"\ntitle = \"Toy\"\n[submission]\nport = 8080\n\
            [[checks]]\nid = \"a\"\ntitle = \"a\"\ncategory = \"api\"\npoints = 1\n[[checks.steps]]\nhttp = \"GET /\"\n\
            [[checks]]\nid = \"b\"\ntitle = \"b\"\ncategory = \"api\"\npoints = 1\n[[checks.steps]]\nhttp = \"GET /\"\n";
        let ex = harness::exercise::parse_exercise(Path::new("toy/spec.toml"), src).unwrap();
        let subject = Subject {
            name: "variants-two".into(),
            path: PathBuf::from("v"),
            kind: Kind::Faulty {
                fails: ["a".to_string(), "b".to_string()].into(),
            },
        };
        // `--only a`: b was not run, so it is neither lost nor expected to be.
        let mut report = crate::report::fixture::report();
        report.checks = ex
            .checks
            .iter()
            .map(|c| {
                let mut r = harness::not_run(c, harness::NOT_SELECTED.into());
                if c.id == "a" {
                    r.status = CheckStatus::Failed;
                    r.failure = Some(grader_report::Failure::message("wrong"));
                }
                r
            })
            .collect();
        let reports: BTreeMap<String, Report> = [("variants-two".to_string(), report)].into();
        let only = ["a".to_string()];
        let f = findings(
            &ex,
            std::slice::from_ref(&subject),
            &reports,
            Some(&only),
            &Default::default(),
        );
        assert!(f.subjects[0].on_declaration(), "{:?}", f.subjects[0]);
        assert_eq!(f.subjects[0].declared.len(), 1);
        // Judged on every check, a check that did not run is not passed.
        let f = findings(
            &ex,
            std::slice::from_ref(&subject),
            &reports,
            None,
            &Default::default(),
        );
        assert_eq!(f.subjects[0].lost.len(), 2);
        let only_b = ["b".to_string()];
        let f = findings(
            &ex,
            std::slice::from_ref(&subject),
            &reports,
            Some(&only_b),
            &Default::default(),
        );
        assert_eq!(
            f.subjects[0].extra().into_iter().collect::<Vec<_>>(),
            Vec::<String>::new()
        );
        assert!(f.subjects[0].lost.contains("b") && !f.subjects[0].lost.contains("a"));
    }
}
