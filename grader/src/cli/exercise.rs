//! Finding an exercise from what the user typed: a path, or a bundled exercise's name.

use std::path::{Path, PathBuf};

use harness::exercise::SPEC_FILE;

/// The folders of `dir` that hold an exercise spec, sorted by name.
pub(crate) fn bundled(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(SPEC_FILE).is_file())
        .collect();
    found.sort();
    Ok(found)
}

fn resolve(exercises: &Path, arg: &str) -> PathBuf {
    let path = PathBuf::from(arg);
    if path.exists() {
        path
    } else {
        exercises.join(arg)
    }
}

/// The exercise, or `None` after printing what is wrong with its spec.
pub(crate) fn load_or_report(exercises: &Path, arg: &str) -> Option<harness::Exercise> {
    let path = resolve(exercises, arg);
    if !path.exists() {
        // Neither a path from here nor a bundled name: say both, and what is bundled.
        let names: Vec<String> = bundled(exercises)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
            .collect();
        super::bad_input(format_args!(
            "no exercise spec here: `{arg}` is not a folder or spec file (from {}), nor an exercise in {}\n  bundled exercises: {}",
            std::env::current_dir().map_or_else(|_| ".".into(), |d| d.display().to_string()),
            std::fs::canonicalize(exercises)
                .unwrap_or_else(|_| exercises.to_path_buf())
                .display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
        return None;
    }
    harness::load_exercise(&path)
        .map_err(|errors| eprintln!("{errors}"))
        .ok()
}

/// What `--only` and the exercise's baseline add to a run: the checks to grade (each
/// must exist) and the reference's work figures. `Err` carries the exit code of a bad
/// command line or exercise, already said.
pub(crate) fn selection_and_reference(
    exercise: &harness::Exercise,
    only: &[String],
) -> Result<
    (
        Option<Vec<String>>,
        std::sync::Arc<crate::run::baseline::Figures>,
    ),
    u8,
> {
    let unknown: Vec<&String> = only
        .iter()
        .filter(|id| !exercise.checks.iter().any(|c| c.id == **id))
        .collect();
    if let Some(id) = unknown.first() {
        let ids: Vec<&str> = exercise.checks.iter().map(|c| c.id.as_str()).collect();
        return Err(super::bad_input(format_args!(
            "--only: `{id}` is no check of {}\n  its checks: {}",
            exercise.name,
            ids.join(", ")
        )));
    }
    let reference = crate::run::baseline::load(&exercise.dir)
        .map_err(|e| super::bad_input(format_args!("the exercise's baseline: {e}")))?;
    let only = (!only.is_empty()).then(|| only.to_vec());
    Ok((only, std::sync::Arc::new(reference)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_names_checks_of_the_exercise() {
        let src = "[exercise]\nname = \"toy\"\ntitle = \"Toy\"\n[submission]\nport = 8080\n[[checks]]\nid = \"a\"\ntitle = \"a\"\ncategory = \"api\"\npoints = 1\n[[checks.steps]]\nhttp = \"GET /\"\n";
        let ex = harness::exercise::parse_exercise(std::path::Path::new("toy/spec.toml"), src)
            .expect("a valid spec");
        let (only, reference) =
            super::selection_and_reference(&ex, &["a".to_string()]).expect("known");
        assert_eq!(only, Some(vec!["a".to_string()]));
        assert!(reference.is_empty(), "no baseline.json: no reference");
        assert_eq!(
            super::selection_and_reference(&ex, &[]).expect("all").0,
            None
        );
        assert_eq!(
            super::selection_and_reference(&ex, &["b".to_string()]).err(),
            Some(grader_report::Fault::Exercise.exit_code())
        );
    }
}
