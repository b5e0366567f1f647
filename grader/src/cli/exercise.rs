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
