//! Whose the processes of a run without Docker are. Run as root (a Gradescope
//! autograder, a CI container), the grader gives the services to `nobody` and the
//! submission to an account of its own with no other files on the machine, so that
//! the submission can neither read the database's files nor signal the services or
//! the grader. Run as anyone else, every process is that user's: nothing is separated
//! (the README says so).

use std::path::Path;

use nix::unistd::{Uid, User};

/// The submission's account when the grader is root: no entry in /etc/passwd, no files
/// but the run's copy of the submission.
pub(crate) const SUBMISSION_ID: u32 = 65533;

/// A numeric user and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Account {
    pub uid: u32,
    pub gid: u32,
}

/// Whether the grader can (and so will) run the others under accounts of their own.
pub(crate) fn is_root() -> bool {
    Uid::effective().is_root()
}

/// The services' account: `nobody` when root, else none (the grader's own user).
pub(crate) fn services() -> Result<Option<Account>, String> {
    if !is_root() {
        return Ok(None);
    }
    let user = User::from_name("nobody")
        .map_err(|e| format!("looking up the user nobody: {e}"))?
        .ok_or("the process runtime runs PostgreSQL and Redis as `nobody` when root, and this machine has no such user")?;
    Ok(Some(Account {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    }))
}

/// The submission's account when root, else none.
pub(crate) fn submission() -> Result<Option<Account>, String> {
    if !is_root() {
        return Ok(None);
    }
    if let Ok(Some(user)) = User::from_uid(Uid::from_raw(SUBMISSION_ID)) {
        return Err(format!(
            "the process runtime runs submissions as uid {SUBMISSION_ID}, which is the user \
             `{}` on this machine: it must be an account of no one's",
            user.name
        ));
    }
    Ok(Some(Account {
        uid: SUBMISSION_ID,
        gid: SUBMISSION_ID,
    }))
}

/// Gives `path` (not what is in it) to `account`, if there is one.
pub(crate) fn give(path: &Path, account: Option<&Account>) -> Result<(), String> {
    let Some(a) = account else {
        return Ok(());
    };
    std::os::unix::fs::chown(path, Some(a.uid), Some(a.gid))
        .map_err(|e| format!("giving {} to uid {}: {e}", path.display(), a.uid))
}

/// Gives `dir` and everything in it to `account` (symbolic links themselves, never
/// what they point at).
pub(crate) fn give_all(dir: &Path, account: Option<&Account>) -> Result<(), String> {
    let Some(a) = account else {
        return Ok(());
    };
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        std::os::unix::fs::lchown(&p, Some(a.uid), Some(a.gid))
            .map_err(|e| format!("giving {} to uid {}: {e}", p.display(), a.uid))?;
        let meta = std::fs::symlink_metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&p).map_err(|e| format!("{}: {e}", p.display()))? {
                stack.push(entry.map_err(|e| format!("{}: {e}", p.display()))?.path());
            }
        }
    }
    Ok(())
}
