//! Faulty variants stored as a patch: a variant folder holds `variant.toml` and
//! `mistake.patch`, a unified diff against one of the exercise's reference solutions.
//! The patch is the mistake, readable on its own; grading the folder grades the
//! reference with the patch applied.

use std::path::{Path, PathBuf};

pub const PATCH: &str = "mistake.patch";
const MANIFEST: &str = "variant.toml";

#[derive(Debug, serde::Deserialize)]
struct Manifest {
    /// The solution the patch applies to, a folder name under `solutions/` (default:
    /// the exercise's only solution).
    #[serde(default)]
    base: Option<String>,
}

/// Whether `dir` is a variant stored as a patch.
pub fn is_patch_variant(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file() && dir.join(PATCH).is_file()
}

/// Copies the base solution into `into` and applies the patch there.
pub async fn materialize(dir: &Path, into: &Path) -> Result<PathBuf, String> {
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let manifest: Manifest = toml::from_str(&text)
        .map_err(|e| format!("{}: {}", manifest_path.display(), e.message()))?;
    let solutions = dir
        .parent()
        .and_then(Path::parent)
        .map(|ex| ex.join("solutions"))
        .ok_or_else(|| format!("{} is not inside an exercise's variants/", dir.display()))?;
    let base = match manifest.base {
        Some(b) => solutions.join(b),
        None => {
            let mut all: Vec<PathBuf> = std::fs::read_dir(&solutions)
                .map_err(|e| format!("{}: {e}", solutions.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            if all.len() != 1 {
                return Err(format!(
                    "{}: say which solution the patch applies to (`base = \"NAME\"`): {} has {}",
                    manifest_path.display(),
                    solutions.display(),
                    all.len()
                ));
            }
            all.remove(0)
        }
    };
    let _ = std::fs::remove_dir_all(into);
    copy_tree(&base, into).map_err(|e| format!("copying {}: {e}", base.display()))?;
    let patch = std::fs::canonicalize(dir.join(PATCH)).map_err(|e| e.to_string())?;
    let patch_arg = patch.to_string_lossy();
    crate::source::git(&["apply", "--whitespace=nowarn", &patch_arg], Some(into))
        .await
        .map_err(|e| {
            format!(
                "{} does not apply to {}: {e}",
                patch.display(),
                base.display()
            )
        })?;
    Ok(into.to_path_buf())
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
