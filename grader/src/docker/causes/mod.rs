//! Known causes, recognised in what a submission printed (its log, its build log) and in
//! its container's state, each named in one plain sentence with the sandbox rule it hit.
//! Pure functions of text and numbers: the sandbox gathers the evidence, this names it.

use grader_report::{Cause, CauseKind};

use super::rules::SandboxRules;

mod build;
mod sockets;

pub(crate) use build::{BuildScan, strip_sgr};
pub(crate) use sockets::{from_sockets, listening_sockets};

/// The longest piece of evidence a cause keeps (a log line can be endless).
const EVIDENCE_CHARS: usize = 300;

fn evidence(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(EVIDENCE_CHARS) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

/// Adds `cause` unless one of its kind is there already (the first evidence wins).
fn push(causes: &mut Vec<Cause>, cause: Cause) {
    if !causes.iter().any(|c| c.kind == cause.kind) {
        causes.push(cause);
    }
}

/// The first absolute path on `line` (quotes, brackets and a trailing `:` or `,` cut).
fn path_in(line: &str) -> Option<String> {
    line.split(|c: char| c.is_whitespace() || "'\"()[]`".contains(c))
        .map(|t| t.trim_end_matches([':', ',', ';', '.']))
        .find(|t| t.starts_with('/') && t.len() > 1 && !t.starts_with("//"))
        .map(str::to_string)
}

/// Causes in the submission's own output, one of each kind.
pub(crate) fn from_log<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    rules: &SandboxRules,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    for line in lines {
        if let Some(c) = log_line(line, rules) {
            push(&mut causes, c.with_evidence(evidence(line)));
        }
    }
    causes
}

fn log_line(line: &str, rules: &SandboxRules) -> Option<Cause> {
    let lower = line.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&["read-only file system", "erofs"]) {
        let what = match path_in(line) {
            Some(p) => format!("the server tried to write `{p}`"),
            None => "the server tried to write outside `/tmp`".to_string(),
        };
        return Some(
            Cause::new(
                CauseKind::ReadOnlyFilesystem,
                format!(
                    "{what}, but only /tmp is writable while graded: keep data in the database"
                ),
            )
            .with_rule(rules.files()),
        );
    }
    if has(&[
        "memoryerror",
        "heap out of memory",
        "runtime: out of memory",
        "cannot allocate memory",
        "failed to allocate memory",
        "outofmemoryerror",
    ]) {
        return Some(
            Cause::new(
                CauseKind::OutOfMemory,
                "the server ran out of memory: keep less in memory (stream, page, use the database)",
            )
            .with_rule(rules.memory()),
        );
    }
    database_refusal(&lower, rules)
}

/// The drivers' words for a refusal by PostgreSQL (they pass the server's message on).
fn database_refusal(lower: &str, rules: &SandboxRules) -> Option<Cause> {
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    let missing_role = lower.contains("role \"") && lower.contains("does not exist");
    let message = if missing_role || has(&["password authentication failed", "no pg_hba.conf"]) {
        "the database refused the server's login: connect with the user, password and database in $DATABASE_URL (or PGUSER, PGPASSWORD, PGDATABASE), which change from run to run".to_string()
    } else if has(&[
        "too many connections for role",
        "remaining connection slots are reserved",
        "sorry, too many clients",
    ]) {
        format!(
            "the database refused a connection: the server's role may hold at most {} at once; use one pool of fewer connections and give them back",
            rules.connections()
        )
    } else if has(&[
        "permission denied for ",
        "permission denied to ",
        "must be owner of ",
        "must be superuser",
    ]) {
        "the database refused a statement the server's role has no right to: it owns its own database, and nothing more (no superuser, no CREATE DATABASE or ROLE, no server files)".to_string()
    } else if has(&["database \""]) && lower.contains("does not exist") {
        "the database the server asked for does not exist: take its name from $DATABASE_URL (or PGDATABASE)".to_string()
    } else {
        return None;
    };
    Some(Cause::new(CauseKind::DatabaseRefused, message).with_rule(rules.database()))
}

/// A signal's name for an exit code above 128 (`137` is `SIGKILL`).
fn signal_name(code: i64) -> Option<&'static str> {
    Some(match code - 128 {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// How the submission's container ended, as the engine saw it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ended {
    pub code: i64,
    pub oom_killed: bool,
    /// It had been started again (a restart or crash step) and ended before it was ready.
    pub after_restart: bool,
}

/// The causes a stopped container shows: out of memory, a crash loop, or an exit.
pub(crate) fn from_exit(ended: Ended, rules: &SandboxRules) -> Vec<Cause> {
    let Ended {
        code,
        oom_killed,
        after_restart,
    } = ended;
    let how = match signal_name(code) {
        Some(sig) => format!("was killed by {sig} (exit code {code})"),
        None => format!("exited with code {code}"),
    };
    let state = format!("exit code {code}, OOMKilled {oom_killed}");
    let mut causes = Vec::new();
    if oom_killed || code == 137 {
        let sure = if oom_killed { "" } else { "probably " };
        causes.push(
            Cause::new(
                CauseKind::OutOfMemory,
                format!(
                    "the server was {sure}killed for going over its memory limit: keep less in memory (stream, page, use the database)"
                ),
            )
            .with_rule(rules.memory())
            .with_evidence(state.clone()),
        );
    }
    let cause = if after_restart {
        Cause::new(
            CauseKind::CrashLoop,
            format!(
                "the server {how} after it was restarted, before it answered its health check: it must start again on the data it left (e.g. CREATE TABLE IF NOT EXISTS)"
            ),
        )
    } else {
        Cause::new(
            CauseKind::Exited,
            format!(
                "the server {how}: its last lines say why; a server must keep running until it is stopped"
            ),
        )
    };
    causes.push(cause.with_evidence(state));
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn rules() -> SandboxRules {
        SandboxRules::new(Default::default(), true)
    }

    pub(super) fn kinds(causes: &[Cause]) -> Vec<CauseKind> {
        causes.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn a_write_to_the_read_only_root_is_named_with_its_path() {
        let lines = [
            "127.0.0.1 - - \"POST /todos HTTP/1.1\" 500 -",
            "OSError: [Errno 30] Read-only file system: '/app/todos.json.tmp'",
        ];
        let causes = from_log(lines, &rules());
        assert_eq!(kinds(&causes), [CauseKind::ReadOnlyFilesystem]);
        assert!(
            causes[0].message.contains("`/app/todos.json.tmp`"),
            "{:?}",
            causes[0]
        );
        assert!(
            causes[0]
                .message
                .contains("only /tmp is writable while graded")
        );
        assert!(causes[0].rule.as_deref().unwrap_or("").contains("64 MiB"));
        for (line, path) in [
            (
                "Error: EROFS: read-only file system, open '/app/data.json'",
                "/app/data.json",
            ),
            ("open /srv/db.json: read-only file system", "/srv/db.json"),
            (
                "Read-only file system @ rb_sysopen - /app/tmp/x.pid (Errno::EROFS)",
                "/app/tmp/x.pid",
            ),
            (
                "fopen(/var/www/sess): Failed to open stream: Read-only file system",
                "/var/www/sess",
            ),
        ] {
            let c = from_log([line], &rules());
            assert!(c[0].message.contains(&format!("`{path}`")), "{line}: {c:?}");
        }
    }

    #[test]
    fn the_database_refusing_the_role_is_named() {
        for line in [
            "psycopg2.OperationalError: FATAL:  password authentication failed for user \"postgres\"",
            "error: too many connections for role \"grader\"",
            "ERROR:  permission denied to create database",
            "pq: must be superuser to COPY to or from a file",
        ] {
            assert_eq!(
                kinds(&from_log([line], &rules())),
                [CauseKind::DatabaseRefused],
                "{line}"
            );
        }
        let c = from_log(
            ["FATAL: too many connections for role \"grader\""],
            &rules(),
        );
        assert!(c[0].message.contains("at most 32"), "{c:?}");
        // A file the process may not open is not the database's refusal.
        assert!(
            from_log(
                ["PermissionError: [Errno 13] Permission denied: '/x'"],
                &rules()
            )
            .is_empty()
        );
        assert!(from_log(["GET /todos 200"], &rules()).is_empty());
    }

    #[test]
    fn exits_name_the_signal_memory_and_a_crash_loop() {
        let ended = |code, oom, after_restart| Ended {
            code,
            oom_killed: oom,
            after_restart,
        };
        let c = from_exit(ended(3, false, false), &rules());
        assert_eq!(kinds(&c), [CauseKind::Exited]);
        assert!(c[0].message.contains("exited with code 3"));
        let c = from_exit(ended(139, false, false), &rules());
        assert!(
            c[0].message.contains("killed by SIGSEGV (exit code 139)"),
            "{c:?}"
        );
        let c = from_exit(ended(137, true, false), &rules());
        assert_eq!(kinds(&c), [CauseKind::OutOfMemory, CauseKind::Exited]);
        assert!(c[0].rule.as_deref().unwrap_or("").contains("512 MiB"));
        let c = from_exit(ended(1, false, true), &rules());
        assert_eq!(kinds(&c), [CauseKind::CrashLoop]);
    }
}
