//! Submissions that live in git: a clone URL or a local repository, graded at a ref, or
//! at the last commit before a deadline. The commit graded goes into the report.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a clone may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(300);

/// Which commit of a repository to grade.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GitPick {
    /// A branch, tag or commit (default: the repository's HEAD).
    pub(crate) git_ref: Option<String>,
    /// The last commit on that ref made before this date (e.g. `2026-12-01T23:59:00Z`).
    pub(crate) before: Option<String>,
}

impl GitPick {
    pub(crate) fn is_set(&self) -> bool {
        self.git_ref.is_some() || self.before.is_some()
    }
}

/// A clone URL rather than a folder: `https://`, `http://`, `ssh://`, `git://`,
/// `file://`, `user@host:path`, or a path ending in `.git`.
pub(crate) fn is_git_url(s: &str) -> bool {
    ["https://", "http://", "ssh://", "git://", "file://"]
        .iter()
        .any(|p| s.starts_with(p))
        || s.split_once(':')
            .is_some_and(|(host, _)| host.contains('@') && !host.contains('/'))
        || s.trim_end_matches('/').ends_with(".git")
}

/// Whether `submission` must be cloned: a URL, or a local repository with a ref or a
/// deadline to pick.
pub(crate) fn needs_clone(submission: &str, pick: &GitPick) -> bool {
    is_git_url(submission) || (pick.is_set() && Path::new(submission).join(".git").exists())
}

/// Why a git command gave no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    #[error("git {command} took more than {}s", GIT_TIMEOUT.as_secs())]
    Timeout { command: String },
    #[error("cannot run git (is it installed?): {0}")]
    Spawn(#[source] std::io::Error),
    /// git ran and failed; `last` is the last line of its error.
    #[error("git {command} failed: {last}")]
    Failed { command: String, last: String },
}

/// Why a git submission could not be fetched at the picked commit.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("the repository has no ref `{0}`")]
    NoRef(String),
    #[error("no commit on `{wanted}` was made before {date}")]
    NoCommitBefore { wanted: String, date: String },
}

/// Runs git (in `dir` when given) with no prompts and a time limit; its output, or the
/// last line of its error.
pub(crate) async fn git(args: &[&str], dir: Option<&Path>) -> Result<String, GitError> {
    let mut cmd = tokio::process::Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let command = || args.first().copied().unwrap_or_default().to_string();
    let out = tokio::time::timeout(GIT_TIMEOUT, cmd.output())
        .await
        .map_err(|_| GitError::Timeout { command: command() })?
        .map_err(GitError::Spawn)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Err(GitError::Failed {
            command: command(),
            last: last.trim().to_string(),
        })
    }
}

/// Clones `source` into `into` (which must not exist) and checks out the picked commit.
/// Returns the folder to build and the commit's full hash.
pub(crate) async fn fetch(
    source: &str,
    pick: &GitPick,
    into: &Path,
) -> Result<(PathBuf, String), FetchError> {
    let into_s = into.to_string_lossy().into_owned();
    git(
        &[
            "clone",
            "--quiet",
            "--no-checkout",
            "--no-hardlinks",
            "--",
            source,
            &into_s,
        ],
        None,
    )
    .await?;
    let wanted = pick.git_ref.as_deref().unwrap_or("HEAD");
    // A branch of the remote is `origin/NAME` in the clone; tags and hashes are as given.
    let mut resolved = None;
    for candidate in [wanted.to_string(), format!("origin/{wanted}")] {
        let spec = format!("{candidate}^{{commit}}");
        if let Ok(hash) = git(&["rev-parse", "--verify", "--quiet", &spec], Some(into)).await {
            resolved = Some(hash);
            break;
        }
    }
    let tip = resolved.ok_or_else(|| FetchError::NoRef(wanted.to_string()))?;
    let commit = match &pick.before {
        None => tip,
        Some(date) => {
            let before = format!("--before={date}");
            let hash = git(&["rev-list", "-n", "1", &before, &tip], Some(into)).await?;
            if hash.is_empty() {
                return Err(FetchError::NoCommitBefore {
                    wanted: wanted.to_string(),
                    date: date.clone(),
                });
            }
            hash
        }
    };
    git(&["checkout", "--quiet", "--detach", &commit], Some(into)).await?;
    Ok((into.to_path_buf(), commit))
}

/// The commit a local folder's repository is at, if it is a git work tree.
pub(crate) async fn head_of(dir: &Path) -> Option<String> {
    if !dir.join(".git").exists() {
        return None;
    }
    git(&["rev-parse", "HEAD"], Some(dir)).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_folders() {
        assert!(is_git_url("https://example.invalid/a/b.git"));
        assert!(is_git_url("git@example.invalid:class/ada.git"));
        assert!(is_git_url("file:///srv/repos/ada"));
        assert!(!is_git_url("submissions/ada"));
        assert!(!is_git_url("./ada"));
    }
}
