//! Variants stored as a patch against one of the exercise's reference solutions: a
//! faulty variant (`variants/NAME/`) holds `variant.toml` and `mistake.patch`, a legal
//! variant (`legal/NAME/`, another form of a right answer) `variant.toml` and
//! `legal.patch`. The patch reads on its own; grading the folder grades the reference
//! with the patch applied.

use std::path::{Path, PathBuf};

use super::source::{GitError, git};

/// The patch file names a variant folder may hold: a mistake, or a legal variation.
const PATCHES: [&str; 2] = ["mistake.patch", "legal.patch"];
const MANIFEST: &str = "variant.toml";

#[derive(Debug, serde::Deserialize)]
struct Manifest {
    /// The solution the patch applies to, a folder name under `solutions/` (default:
    /// the exercise's only solution).
    #[serde(default)]
    base: Option<String>,
}

/// The patch of a variant folder (`None`: `dir` is not a variant stored as a patch).
pub(crate) fn patch_of(dir: &Path) -> Option<PathBuf> {
    if !dir.join(MANIFEST).is_file() {
        return None;
    }
    PATCHES.iter().map(|p| dir.join(p)).find(|p| p.is_file())
}

/// Why a variant could not be turned into a folder to build.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VariantError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    #[error("{} is not inside an exercise's variants/ or legal/", .0.display())]
    Outside(PathBuf),
    #[error(
        "{}: say which solution the patch applies to (`base = \"NAME\"`): {} has {count}",
        manifest.display(),
        solutions.display()
    )]
    WhichBase {
        manifest: PathBuf,
        solutions: PathBuf,
        count: usize,
    },
    #[error("copying {}: {source}", base.display())]
    Copy {
        base: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Patch(std::io::Error),
    #[error("{} does not apply to {}: {source}", patch.display(), base.display())]
    Apply {
        patch: PathBuf,
        base: PathBuf,
        #[source]
        source: GitError,
    },
}

/// Copies the base solution into `into` and applies the patch there.
pub(crate) async fn materialize(dir: &Path, into: &Path) -> Result<PathBuf, VariantError> {
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).map_err(|source| VariantError::Read {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| VariantError::Manifest {
        path: manifest_path.clone(),
        message: e.message().to_string(),
    })?;
    let solutions = dir
        .parent()
        .and_then(Path::parent)
        .map(|ex| ex.join("solutions"))
        .ok_or_else(|| VariantError::Outside(dir.to_path_buf()))?;
    let base = match manifest.base {
        Some(b) => solutions.join(b),
        None => only_solution(&manifest_path, &solutions)?,
    };
    let _ = std::fs::remove_dir_all(into);
    copy_tree(&base, into).map_err(|source| VariantError::Copy {
        base: base.clone(),
        source,
    })?;
    let patch = patch_of(dir).ok_or_else(|| {
        VariantError::Patch(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} has no {}", dir.display(), PATCHES.join(" or ")),
        ))
    })?;
    let patch = std::fs::canonicalize(patch).map_err(VariantError::Patch)?;
    let patch_arg = patch.to_string_lossy();
    git(&["apply", "--whitespace=nowarn", &patch_arg], Some(into))
        .await
        .map_err(|source| VariantError::Apply {
            patch: patch.clone(),
            base,
            source,
        })?;
    Ok(into.to_path_buf())
}

/// The one folder under `solutions/`, for a manifest that names no base.
fn only_solution(manifest: &Path, solutions: &Path) -> Result<PathBuf, VariantError> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(solutions)
        .map_err(|source| VariantError::Read {
            path: solutions.to_path_buf(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    if all.len() != 1 {
        return Err(VariantError::WhichBase {
            manifest: manifest.to_path_buf(),
            solutions: solutions.to_path_buf(),
            count: all.len(),
        });
    }
    Ok(all.remove(0))
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_folder_holds_a_mistake_or_a_legal_patch() {
        let root = std::env::temp_dir().join(format!("grader-variant-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (name, patch) in [("faulty", "mistake.patch"), ("legal", "legal.patch")] {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).expect("a temp folder");
            std::fs::write(dir.join(MANIFEST), "description = \"x\"\n").expect("written");
            assert_eq!(
                patch_of(&dir),
                None,
                "{name}: a manifest alone is no variant"
            );
            std::fs::write(dir.join(patch), "").expect("written");
            assert_eq!(patch_of(&dir), Some(dir.join(patch)));
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_bundled_legal_variants_apply_to_their_reference() {
        let exercises = Path::new(env!("CARGO_MANIFEST_DIR")).join("../exercises");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut count = 0;
        for ex in std::fs::read_dir(&exercises).expect("exercises/").flatten() {
            let Ok(legal) = std::fs::read_dir(ex.path().join("legal")) else {
                continue;
            };
            for v in legal.flatten().filter(|v| v.path().is_dir()) {
                let into = std::env::temp_dir().join(format!(
                    "grader-legal-{}-{}",
                    std::process::id(),
                    v.file_name().to_string_lossy()
                ));
                rt.block_on(materialize(&v.path(), &into))
                    .unwrap_or_else(|e| panic!("{}: {e}", v.path().display()));
                let _ = std::fs::remove_dir_all(&into);
                count += 1;
            }
        }
        assert!(count >= 30, "only {count} legal variants");
    }
}
