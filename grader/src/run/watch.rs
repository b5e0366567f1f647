//! `--watch`: waits until a file in the submission's folder changes, and says what a
//! new run changed (checks newly passing, newly failing) since the last one.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use grader_report::{CheckStatus, Report};
use tokio_util::sync::CancellationToken;

/// Folders a build or an editor fills, whose changes are not the learner's edits.
const IGNORED: [&str; 7] = [
    ".git",
    "target",
    "node_modules",
    "__pycache__",
    ".venv",
    "grader-out",
    ".idea",
];

/// How often the folder is looked at, and how long it must stay still after a change
/// (an editor's save is several writes).
const POLL: Duration = Duration::from_millis(400);

/// What a folder held at one moment: every file under it with its size and
/// modification time, sorted; equal when nothing changed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Snapshot(Vec<(PathBuf, u64, Option<SystemTime>)>);

/// The folder `dir` now. Bounded: at most 20,000 files are looked at.
pub(crate) fn snapshot(dir: &Path) -> Snapshot {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    'walk: while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            if out.len() >= 20_000 {
                break 'walk;
            }
            let path = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                let name = e.file_name();
                if !IGNORED.iter().any(|i| name == *i) {
                    todo.push(path);
                }
            } else {
                out.push((path, meta.len(), meta.modified().ok()));
            }
        }
    }
    out.sort();
    Snapshot(out)
}

/// Waits until the folder `dir` differs from `since` (taken before the last grading
/// began, so that a save made during it is not missed) and then stays still for a
/// moment: the folder as it settled, to compare the next change with; or `None` on
/// `cancel` (Ctrl-C).
pub(crate) async fn changed(
    dir: &Path,
    since: &Snapshot,
    cancel: &CancellationToken,
) -> Option<Snapshot> {
    let mut last = loop {
        let now = snapshot(dir);
        if now != *since {
            break now;
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(POLL) => {}
        }
    };
    // Still for one more poll: the save is over.
    loop {
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(POLL) => {}
        }
        let again = snapshot(dir);
        if again == last {
            return Some(again);
        }
        last = again;
    }
}

/// What changed from `before` to `after`: a line per check that passes now and did
/// not, or does not and did; then the score's move.
pub(crate) fn since(before: &Report, after: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for c in &after.checks {
        let was = before
            .checks
            .iter()
            .find(|b| b.id == c.id)
            .map(|b| b.status == CheckStatus::Passed);
        let is = c.status == CheckStatus::Passed;
        match (was, is) {
            (Some(false) | None, true) => lines.push(format!("  newly passing: {}", c.id)),
            (Some(true), false) => lines.push(format!("  newly failing: {}", c.id)),
            _ => {}
        }
    }
    if lines.is_empty() {
        lines.push("  no check changed since the last run".into());
    }
    lines.push(format!(
        "  score {} -> {} of {}",
        before.score, after.score, after.max_score
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_seen_and_build_folders_are_not() {
        let dir = std::env::temp_dir().join(format!("grader-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("node_modules")).unwrap();
        std::fs::write(dir.join("app.py"), "print(1)\n").unwrap();
        let a = snapshot(&dir);
        std::fs::write(dir.join("node_modules/x.js"), "1").unwrap();
        assert_eq!(a, snapshot(&dir), "node_modules is ignored");
        std::fs::write(dir.join("app.py"), "print(22)\n").unwrap();
        assert_ne!(a, snapshot(&dir), "an edit is seen");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_save_made_before_the_wait_begins_is_not_missed() {
        let dir = std::env::temp_dir().join(format!("grader-watch-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.py"), "print(1)\n").unwrap();
        let graded = snapshot(&dir);
        // Saved while the grading ran, before the grader began to wait.
        std::fs::write(dir.join("app.py"), "print(333)\n").unwrap();
        let cancel = CancellationToken::new();
        let settled =
            tokio::time::timeout(Duration::from_secs(60), changed(&dir, &graded, &cancel))
                .await
                .expect("a save made during the grading was missed");
        assert_eq!(settled, Some(snapshot(&dir)));
        cancel.cancel();
        assert_eq!(changed(&dir, &snapshot(&dir), &cancel).await, None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn newly_passing_and_failing_checks_are_named() {
        let mut before = crate::report::fixture::report();
        let mut after = before.clone();
        before.checks[0].status = CheckStatus::Failed;
        after.checks[0].status = CheckStatus::Passed;
        after.checks[1].status = CheckStatus::Failed;
        before.checks[1].status = CheckStatus::Passed;
        let lines = since(&before, &after);
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("newly passing: {}", after.checks[0].id))),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("newly failing: {}", after.checks[1].id))),
            "{lines:?}"
        );
    }
}
