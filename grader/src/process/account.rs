//! Whose the processes of a run without Docker are. Run as root (a Gradescope
//! autograder, a CI container), the grader gives the services to `nobody` and each
//! run's submission to an account of its own (a uid no one else has, picked per run),
//! so that a submission can neither read the database's files nor signal the services,
//! the grader or a classmate's submission graded beside it, and every process it leaves
//! (a daemon that left its process group) can be found and ended by its uid. Run as
//! anyone else, every process is that user's: nothing is separated (the README says so).

use std::path::Path;

use nix::unistd::{Uid, User};

/// Where the submissions' uids are picked from: above the 16-bit range of ordinary
/// accounts, no entry in /etc/passwd, no files but the run's copy of the submission.
const FIRST_ID: u32 = 0x0010_0000;
const IDS: u32 = 0x0010_0000;

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

/// The submission's account when root (a uid of its own, no one's user and running no
/// process now), else none.
pub(crate) fn submission() -> Result<Option<Account>, String> {
    if !is_root() {
        return Ok(None);
    }
    for _ in 0..32 {
        let id = FIRST_ID + rand::random::<u32>() % IDS;
        let taken = matches!(User::from_uid(Uid::from_raw(id)), Ok(Some(_)))
            || !processes_of(id).is_empty();
        if !taken {
            return Ok(Some(Account { uid: id, gid: id }));
        }
    }
    Err("no free uid for the submission's account (32 picks were all in use)".into())
}

/// The processes whose real uid is `uid`, as /proc shows them.
pub(crate) fn processes_of(uid: u32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let real = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))?
                .split_whitespace()
                .next()?
                .parse::<u32>()
                .ok()?;
            (real == uid).then_some(pid)
        })
        .collect()
}

/// Ends every process of the account (SIGKILL): what a submission left behind, in its
/// process group or not. A process forking as it is killed is found by the next round.
pub(crate) fn end_all(account: &Account) {
    for _ in 0..10 {
        let pids = processes_of(account.uid);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
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
