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

/// FNV-1a: a small, stable hash (image tags, shards) that does not change between
/// Rust releases as `DefaultHasher` may.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
