//! The orchestration: one grading run, a class of them, and where a submission comes
//! from (a folder, a git repository, a faulty variant's patch). It never prints: what
//! happens goes to a `Reporter` as `RunEvent`s.

mod batch;
mod cancel;
mod event;
mod grade;
mod learners;
mod source;
mod variant;

pub(crate) use batch::{BatchOptions, grade_class, merge};
pub(crate) use event::{Reporter, RunEvent};
pub(crate) use grade::{GradeOptions, grade_alone, new_run_id};
pub(crate) use learners::{Shard, learners};
pub(crate) use source::{GitPick, is_git_url, needs_clone};
