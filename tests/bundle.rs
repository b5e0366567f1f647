//! One self-contained binary: a copy of the grader, run from a folder that has no
//! `exercises/` or `docker/`, grades `todo-api` with the exercises and recipes built
//! into it, and its report names the exercise by the digest `--version` prints.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn a_copied_binary_grades_with_the_exercises_built_into_it_from_any_folder() {
    let tmp = std::env::temp_dir().join(format!("grader-bundle-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    for d in ["bin", "work", "cache"] {
        std::fs::create_dir_all(tmp.join(d)).unwrap();
    }
    let bin = tmp.join("bin/grader");
    std::fs::copy(env!("CARGO_BIN_EXE_grader"), &bin).unwrap();
    let grader = || {
        let mut cmd = Command::new(&bin);
        cmd.current_dir(tmp.join("work"))
            .env("NO_COLOR", "1")
            .env("XDG_CACHE_HOME", tmp.join("cache"))
            .env_remove("GRADER_EXERCISES")
            .env_remove("GRADER_RECIPES");
        cmd
    };

    let version = grader().arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let digest = version
        .lines()
        .find_map(|l| l.trim().strip_prefix("todo-api "))
        .unwrap_or_else(|| panic!("--version names todo-api: {version}"))
        .to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );

    // The images the built-in recipes describe (made once, shared with the other tests).
    let images = grader().arg("images").output().unwrap();
    assert!(
        images.status.success(),
        "{}",
        String::from_utf8_lossy(&images.stderr)
    );
    let reference = root().join("exercises/todo-api/solutions/python");
    let out = grader()
        .args(["grade", "todo-api"])
        .arg(&reference)
        .args(["--only", "create-status", "--out"])
        .arg(tmp.join("out"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Graded (one check of many: below the pass mark, exit code 1).
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.join("out/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["status"], "graded");
    assert_eq!(report["exercise"]["name"], "todo-api");
    assert_eq!(
        report["exercise"]["digest"],
        digest.as_str(),
        "the digest --version prints"
    );
    assert_eq!(report["grader_version"], env!("CARGO_PKG_VERSION"));
    // The exercise came from the unpacked bundle in the cache, not from the source tree.
    let unpacked: Vec<_> = std::fs::read_dir(tmp.join("cache/grader"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(unpacked.len(), 1, "{unpacked:?}");
    assert!(unpacked[0].join("exercises/todo-api/spec.toml").is_file());
    let create = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "create-status")
        .unwrap_or_else(|| panic!("create-status in the report: {stdout}"));
    assert_eq!(create["status"], "passed", "{stdout}");
    std::fs::remove_dir_all(&tmp).unwrap();
}
