//! The build context: the submission folder as a tar, without what `.dockerignore`
//! excludes (the client's job: the engine does not filter).

use std::io;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Refuse contexts larger than this: a submission is source code, not data.
pub const MAX_CONTEXT_BYTES: u64 = 256 * 1024 * 1024;

/// Why a submission folder cannot be sent to the engine. All of them are the
/// submission's: the build fails with this reason.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{}:{line}: bad pattern: {source}", path.display())]
    BadPattern {
        path: PathBuf,
        line: usize,
        source: ignore::Error,
    },
    #[error("{}: {source}", path.display())]
    Ignore {
        path: PathBuf,
        source: ignore::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "the submission folder is larger than {} MiB (list what the build does not need in .dockerignore)",
        MAX_CONTEXT_BYTES / 1024 / 1024
    )]
    TooLarge,
    #[error("cannot add {}: {source}", name.display())]
    Add { name: PathBuf, source: io::Error },
    #[error("cannot add the template Dockerfile: {0}")]
    Template(#[source] io::Error),
    #[error("cannot write the build context: {0}")]
    Write(#[source] io::Error),
}

fn read_error(path: &Path) -> impl FnOnce(io::Error) -> ContextError + '_ {
    move |source| ContextError::Read {
        path: path.to_path_buf(),
        source,
    }
}

fn add_error(name: &Path) -> impl FnOnce(io::Error) -> ContextError + '_ {
    move |source| ContextError::Add {
        name: name.to_path_buf(),
        source,
    }
}

/// Tars `dir` for a build, honouring `.dockerignore` (the Dockerfile is always sent).
/// `template`: a Dockerfile to add (for a folder that has none).
pub fn build_context(
    dir: &Path,
    dockerfile: &str,
    template: Option<&str>,
) -> Result<Vec<u8>, ContextError> {
    let ignore = dockerignore(dir)?;
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    let mut total = 0u64;
    walk(
        dir,
        Path::new(""),
        &ignore,
        dockerfile,
        &mut tar,
        &mut total,
    )?;
    if let Some(text) = template {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, dockerfile, text.as_bytes())
            .map_err(ContextError::Template)?;
    }
    tar.into_inner().map_err(ContextError::Write)
}

/// `.dockerignore` patterns are anchored at the context root; gitignore patterns are
/// anchored when they start with `/`, so each pattern gets one.
fn dockerignore(dir: &Path) -> Result<Gitignore, ContextError> {
    let mut builder = GitignoreBuilder::new(dir);
    let path = dir.join(".dockerignore");
    if let Ok(text) = std::fs::read_to_string(&path) {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (neg, pat) = match line.strip_prefix('!') {
                Some(p) => ("!", p.trim()),
                None => ("", line),
            };
            let pat = pat.trim_start_matches("./").trim_start_matches('/');
            let pat = pat.trim_end_matches('/');
            if pat.is_empty() {
                continue;
            }
            builder
                .add_line(None, &format!("{neg}/{pat}"))
                .map_err(|source| ContextError::BadPattern {
                    path: path.clone(),
                    line: n + 1,
                    source,
                })?;
        }
    }
    builder
        .build()
        .map_err(|source| ContextError::Ignore { path, source })
}

fn walk(
    root: &Path,
    rel: &Path,
    ignore: &Gitignore,
    dockerfile: &str,
    tar: &mut tar::Builder<Vec<u8>>,
    total: &mut u64,
) -> Result<(), ContextError> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(read_error(&dir))?
        .collect::<Result<_, _>>()
        .map_err(read_error(&dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = rel.join(entry.file_name());
        let path = entry.path();
        let meta = path.symlink_metadata().map_err(read_error(&path))?;
        let is_dir = meta.is_dir();
        let always = name == Path::new(dockerfile) || name == Path::new(".dockerignore");
        if !always && ignore.matched(&name, is_dir).is_ignore() {
            continue;
        }
        if is_dir {
            tar.append_dir(&name, &path).map_err(add_error(&name))?;
            walk(root, &name, ignore, dockerfile, tar, total)?;
        } else {
            *total += meta.len();
            if *total > MAX_CONTEXT_BYTES {
                return Err(ContextError::TooLarge);
            }
            tar.append_path_with_name(&path, &name)
                .map_err(add_error(&name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<String> {
        let mut archive = tar::Archive::new(tar);
        let mut out: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn honours_dockerignore_anchored_patterns() {
        let dir = std::env::temp_dir().join(format!("grader-ctx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub/node_modules")).unwrap();
        std::fs::create_dir_all(dir.join("node_modules")).unwrap();
        for f in [
            "Dockerfile",
            "app.py",
            "secret.env",
            "keep.env",
            "sub/x.pyc",
            "sub/node_modules/a",
            "node_modules/b",
            "top.pyc",
        ] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        std::fs::write(
            dir.join(".dockerignore"),
            "# comment\nnode_modules\n*.env\n!keep.env\n**/*.pyc\nDockerfile\n",
        )
        .unwrap();
        let tar = build_context(&dir, "Dockerfile", None).unwrap();
        let got = names(&tar);
        assert_eq!(
            got,
            [
                ".dockerignore",
                "Dockerfile",
                "app.py",
                "keep.env",
                "sub",
                "sub/node_modules",
                "sub/node_modules/a"
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
