//! The digest of an exercise, so that a report says which exercise graded it: SHA-256
//! over the exercise's files that grading reads, with their paths. Not read: the
//! references, the variants and the legal variants (`solutions/`, `variants/`,
//! `legal/`) and hidden files. The build script shares this file, so that `--version`
//! names the built-in exercises by the same digest the reports carry.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The folders of an exercise that grading does not read.
const NOT_GRADED: [&str; 3] = ["solutions", "variants", "legal"];

/// `sha256:` and 64 hex digits, over every graded file of `dir` in path order (each
/// file as its `/`-separated path and its bytes, both with their lengths).
pub(crate) fn exercise_digest(dir: &Path) -> std::io::Result<String> {
    let files = files_under(dir, true)?;
    let mut hash = Sha256::new();
    for (name, path) in &files {
        let bytes = std::fs::read(path)?;
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    Ok(format!("sha256:{}", hex::encode(hash.finalize())))
}

/// The files under `root` (not following links to folders) in path order, as (the
/// `/`-separated path from `root`, the path); `graded` leaves out hidden files and the
/// folders grading does not read (the build script packs every file).
pub(crate) fn files_under(root: &Path, graded: bool) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    walk(root, root, graded, &mut files)?;
    files.sort();
    Ok(files)
}

fn walk(
    root: &Path,
    dir: &Path,
    graded: bool,
    out: &mut Vec<(String, PathBuf)>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if graded && name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if graded && dir == root && NOT_GRADED.contains(&name.as_str()) {
                continue;
            }
            walk(root, &path, graded, out)?;
        } else if path.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
            out.push((parts.join("/"), path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_follows_what_grading_reads_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("grader-digest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("schemas")).unwrap();
        std::fs::create_dir_all(dir.join("solutions/go")).unwrap();
        std::fs::write(dir.join("spec.toml"), "[exercise]\n").unwrap();
        std::fs::write(dir.join("schemas/todo.json"), "{}").unwrap();
        let first = exercise_digest(&dir).unwrap();
        assert!(
            first.starts_with("sha256:") && first.len() == 7 + 64,
            "{first}"
        );
        // A reference, a variant, a hidden file: the same exercise.
        std::fs::write(dir.join("solutions/go/main.go"), "package main").unwrap();
        std::fs::write(dir.join(".DS_Store"), "x").unwrap();
        assert_eq!(exercise_digest(&dir).unwrap(), first);
        // A schema changed, or moved: another exercise.
        std::fs::write(dir.join("schemas/todo.json"), "{ }").unwrap();
        let changed = exercise_digest(&dir).unwrap();
        assert_ne!(changed, first);
        std::fs::rename(
            dir.join("schemas/todo.json"),
            dir.join("schemas/todo2.json"),
        )
        .unwrap();
        assert_ne!(exercise_digest(&dir).unwrap(), changed);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
