//! Hints: a step's advice (a string, or a table of strings by kind of failure) and the
//! advice of one assertion (`{ equals = 3, hint = "..." }`). A hint that could never be
//! shown is an error.

use std::ops::Range;

use toml::Spanned;

use super::Validator;
use crate::exercise::error::help_for;
use crate::exercise::model::*;
use crate::exercise::raw::*;

/// What a hint table may look like, for errors.
const HINT_FORMS: &str = "a hint is a string, or a table of strings by kind of failure: { status = \"...\", missing = \"...\", value = \"...\", type = \"...\", no_answer = \"...\", other = \"...\" }";

impl Validator<'_> {
    /// A step's `hint`: a string (shown for a status, a missing or wrong value, or
    /// another failure of the submission, never for a type mismatch or no answer), or a
    /// table by kind of failure.
    pub(super) fn hint(&mut self, raw: &RawStep) -> Option<Hint> {
        let hint = raw.hint.as_ref()?;
        let span = hint.span();
        match hint.get_ref() {
            toml::Value::String(text) => Some(Hint::Plain(text.clone())),
            toml::Value::Table(table) => {
                let mut texts = Vec::new();
                for (key, value) in table {
                    let Some(cause) = Cause::parse(key) else {
                        let fallback = format!("kinds of failure: {}", Cause::NAMES.join(", "));
                        self.error(
                            span.clone(),
                            format!("unknown kind of failure `{key}` in a hint"),
                        )
                        .help = help_for(key, Cause::NAMES.iter().copied(), Some(fallback));
                        continue;
                    };
                    let Some(text) = value.as_str() else {
                        self.error(span.clone(), format!("the hint for `{key}` is a string"));
                        continue;
                    };
                    if cause == Cause::Status && !judges_status(raw) {
                        self.error(
                            span.clone(),
                            "a hint for `status` is never shown: this step has no `expect.status` or `expect.statuses`",
                        );
                        continue;
                    }
                    texts.push((cause, text.to_string()));
                }
                if table.is_empty() {
                    self.error(span, "an empty hint table").help = Some(HINT_FORMS.into());
                }
                (!texts.is_empty()).then_some(Hint::ByCause(texts))
            }
            _ => {
                self.error(span, "a hint is a string or a table").help = Some(HINT_FORMS.into());
                None
            }
        }
    }

    /// The `hint` of an assertion table (`{ equals = 3, hint = "..." }`): a string, next
    /// to at least one predicate.
    pub(super) fn assertion_hint(&mut self, value: &Spanned<toml::Value>) -> Option<String> {
        let toml::Value::Table(table) = value.get_ref() else {
            return None;
        };
        let hint = table.get("hint")?;
        let span: Range<usize> = value.span();
        let Some(text) = hint.as_str() else {
            self.error(span, "an assertion's `hint` is a string");
            return None;
        };
        if table.len() == 1 {
            self.error(
                span,
                "an assertion needs a predicate besides its `hint`, e.g. { equals = 3, hint = \"...\" }",
            );
            return None;
        }
        Some(text.to_string())
    }
}

/// Whether a step can fail on its status.
fn judges_status(raw: &RawStep) -> bool {
    raw.expect
        .as_ref()
        .is_some_and(|e| e.status.is_some() || !e.statuses.is_empty())
}
