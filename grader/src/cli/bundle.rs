//! The exercises and image recipes built into this binary (`build.rs` packs them): where
//! no `--exercises`/`--recipes` is given and the working directory has no `exercises/`
//! or `docker/`, they are unpacked once into the user's cache
//! (`$XDG_CACHE_HOME/grader`, else `~/.cache/grader`) and used from there, so that a
//! copied or `cargo install`ed binary grades `todo-api` from any folder.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

static BUNDLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bundle.tar.gz"));

/// The first 16 hex digits of the bundle's SHA-256 (`build.rs` computes it).
const BUNDLE_DIGEST: &str = include_str!(concat!(env!("OUT_DIR"), "/bundle.sha256"));

/// The built-in exercises and their digests, one per line.
#[cfg(test)]
const EXERCISES: &str = include_str!(concat!(env!("OUT_DIR"), "/bundle.txt"));

/// `--version`: the grader's version and the exercises built into it, each with the
/// digest its reports carry.
pub(crate) const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nbuilt-in exercises (the digest their reports carry):\n",
    include_str!(concat!(env!("OUT_DIR"), "/bundle.txt"))
);

/// The file that marks an unpacked bundle as whole.
const WHOLE: &str = ".grader-bundle";

/// The folder holding the bundle's `exercises/` and `docker/`, unpacked on first use.
pub(crate) fn unpacked() -> anyhow::Result<PathBuf> {
    let root = cache_root().context(
        "no cache folder: set XDG_CACHE_HOME or HOME, or give --exercises and --recipes",
    )?;
    unpack_into(&root)
}

/// Unpacks the bundle under `root` (in a folder named by its digest) unless it is there.
fn unpack_into(root: &Path) -> anyhow::Result<PathBuf> {
    let name = format!("bundle-{}-{BUNDLE_DIGEST}", env!("CARGO_PKG_VERSION"));
    let dir = root.join(&name);
    if dir.join(WHOLE).is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(root)
        .with_context(|| format!("cannot create the cache folder {}", root.display()))?;
    // Unpacked beside, then renamed: another grader unpacking at the same time, or one
    // that was killed half-way, never leaves a half bundle under the final name.
    let part = root.join(format!(".{name}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&part);
    let unpack = || -> std::io::Result<()> {
        tar::Archive::new(flate2::read::GzDecoder::new(BUNDLE)).unpack(&part)?;
        std::fs::write(part.join(WHOLE), BUNDLE_DIGEST)
    };
    unpack().with_context(|| {
        format!(
            "cannot unpack the built-in exercises into {}",
            part.display()
        )
    })?;
    if std::fs::rename(&part, &dir).is_err() {
        if dir.join(WHOLE).is_file() {
            // Another grader got there first.
            let _ = std::fs::remove_dir_all(&part);
        } else {
            // A folder that is not a whole bundle is in the way: this one replaces it.
            let _ = std::fs::remove_dir_all(&dir);
            let moved = std::fs::rename(&part, &dir);
            if moved.is_err() {
                let _ = std::fs::remove_dir_all(&part);
            }
            moved.with_context(|| {
                format!(
                    "cannot unpack the built-in exercises into {}",
                    dir.display()
                )
            })?;
        }
    }
    Ok(dir)
}

fn cache_root() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("grader"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_unpacks_once_whole_with_every_exercise_and_recipe() {
        let root = std::env::temp_dir().join(format!("grader-bundle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = unpack_into(&root).unwrap();
        for exercise in [
            "todo-api",
            "url-shortener",
            "auth-service",
            "bank-ledger",
            "cache-proxy",
            "job-queue",
        ] {
            assert!(
                dir.join("exercises")
                    .join(exercise)
                    .join("spec.toml")
                    .is_file(),
                "{exercise}"
            );
            assert!(
                EXERCISES.contains(&format!("  {exercise} sha256:")),
                "{EXERCISES}"
            );
        }
        assert!(dir.join("docker/templates/go/Dockerfile").is_file());
        assert!(
            dir.join("exercises/todo-api/solutions/python/.dockerignore")
                .is_file()
        );
        // The digests --version prints are those of the unpacked exercises.
        let todo = crate::run::exercise_digest(&dir.join("exercises/todo-api")).unwrap();
        assert!(
            EXERCISES.contains(&format!("  todo-api {todo}\n")),
            "{EXERCISES}"
        );
        // Executables keep their mode.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join("docker/base/build.sh"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111, "{mode:o}");
        }
        // Unpacked already: the same folder, untouched.
        std::fs::write(dir.join("marker"), "x").unwrap();
        assert_eq!(unpack_into(&root).unwrap(), dir);
        assert!(dir.join("marker").is_file());
        // A half bundle (no mark) under the name is replaced by a whole one.
        std::fs::remove_file(dir.join(WHOLE)).unwrap();
        std::fs::remove_dir_all(dir.join("exercises/todo-api")).unwrap();
        assert_eq!(unpack_into(&root).unwrap(), dir);
        assert!(dir.join("exercises/todo-api/spec.toml").is_file());
        assert!(dir.join(WHOLE).is_file() && !dir.join("marker").exists());
        let left: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "nothing beside the bundle: {left:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
