//! Exercise specs: the TOML shape (`raw`), its validation into the model the runner
//! executes (`validate`, `model`), and errors that point at file:line:col (`error`).

mod error;
mod media_type;
mod model;
mod raw;
mod validate;

pub use error::did_you_mean;
pub use error::{SpecError, SpecErrors};
pub use model::{
    Body, Capture, CaptureSource, Cause, Check, DEFAULT_GRACE, DatabaseAction, ENV_VARIABLES,
    ExecStep, Exercise, Expect, HeaderAssert, Hint, HttpStep, JsonAssert, JsonType, Limits,
    LoadStep, MediaType, MockBody, MockRoute, Num, Pace, PageNext, Pages, Part, PartData,
    PostgresService, Predicate, Query, RedisService, RedisStep, Retry, Schema, Segment, SortOrder,
    SqlStep, Sse, StatusExpect, Step, StepKind, SubmissionContract, TValue, TcpStep,
    UpstreamCallsStep, UpstreamMode, UpstreamService, ValueStep, WorkAssert, WorkBound, WorkOp,
    show_num,
};
pub use validate::{SPEC_FILE, load_exercise, parse_bytes, parse_duration, parse_exercise};
