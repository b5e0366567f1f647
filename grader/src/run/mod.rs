//! The orchestration: one grading run, a class of them, and where a submission comes
//! from (a folder, a git repository, a faulty variant's patch). It never prints: what
//! happens goes to a `Reporter` as `RunEvent`s.

mod attach;
pub(crate) mod author;
pub(crate) mod baseline;
mod batch;
mod cancel;
mod digest;
mod event;
mod grade;
mod learners;
mod local;
mod source;
mod variant;
pub(crate) mod watch;

pub(crate) use attach::{Attach, attach_alone, check_url};
pub(crate) use batch::{BatchOptions, grade_class, merge};
pub(crate) use digest::exercise_digest;
pub(crate) use event::{Reporter, RunEvent};
pub(crate) use grade::{GradeOptions, grade_alone, new_run_id};
pub(crate) use learners::{Shard, learners};
pub(crate) use local::{ProcessOptions, grade_process_alone};
pub(crate) use source::{GitPick, is_git_url, needs_clone};
