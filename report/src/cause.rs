//! Known causes of a failure, named in plain words: what the grader recognised in the
//! submission's output, its container's state or its build log. A report carries them
//! next to the failure they explain (a check's, or the run's when it did not build or
//! start), each with the sandbox rule it hit, if one.

use serde::{Deserialize, Serialize};

/// A known reason why a submission failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    pub kind: CauseKind,
    /// One sentence for the learner: what happened, and what to change.
    pub message: String,
    /// The sandbox rule it hit, as the exercise README's "Sandbox rules" states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What showed it: the line the submission (or its build) printed, or the
    /// container's state, exactly as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// The kinds of cause the grader knows. A reader meets kinds added later as `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CauseKind {
    /// A write outside `/tmp`: the root filesystem is read-only while graded.
    ReadOnlyFilesystem,
    /// The server ran out of memory (killed by the kernel, or its runtime said so).
    OutOfMemory,
    /// The server's process ended (an exit code, or a signal).
    Exited,
    /// The server listens on 127.0.0.1 (or ::1) only: nothing outside its container
    /// reaches it.
    ListensOnLoopback,
    /// The server listens, but not on the port in `$PORT`.
    WrongPort,
    /// The server exited again after the grader restarted it, before it was ready.
    CrashLoop,
    /// The database refused the server's role (a right it does not have, a wrong
    /// password, too many connections).
    DatabaseRefused,
    /// The build could not reach a package registry (npm, PyPI, the Go proxy,
    /// RubyGems, Packagist): there may be none where the submission is graded.
    RegistryUnreachable,
    /// The build asked for a package that does not exist (by that name).
    MissingPackage,
    /// The Dockerfile's base image is not there and cannot be pulled.
    UnknownBaseImage,
    /// A kind this reader does not know (added after it was written).
    #[serde(other)]
    Other,
}

impl Cause {
    pub fn new(kind: CauseKind, message: impl Into<String>) -> Cause {
        Cause {
            kind,
            message: message.into(),
            rule: None,
            evidence: None,
        }
    }

    pub fn with_rule(mut self, rule: impl Into<String>) -> Cause {
        self.rule = Some(rule.into());
        self
    }

    pub fn with_evidence(mut self, evidence: impl Into<String>) -> Cause {
        self.evidence = Some(evidence.into());
        self
    }

    /// The cause in one line, as every format shows it: the message, then the rule.
    pub fn line(&self) -> String {
        match &self.rule {
            Some(rule) => format!("{} (sandbox rule: {rule})", self.message),
            None => self.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_snake_case_and_unknown_ones_read_as_other() {
        let c = Cause::new(CauseKind::ReadOnlyFilesystem, "m").with_rule("r");
        let json = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"kind":"read_only_filesystem","message":"m","rule":"r"}"#
        );
        let later: Cause =
            serde_json::from_str(r#"{"kind":"a_kind_from_the_future","message":"m"}"#)
                .expect("an older reader reads a newer kind");
        assert_eq!(later.kind, CauseKind::Other);
        assert_eq!(c.line(), "m (sandbox rule: r)");
    }
}
