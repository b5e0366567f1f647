//! `redis` steps: a command against the exercise's Redis, split into words (quotes and
//! templates kept whole), each word a template.

use std::ops::Range;

use toml::Spanned;

use super::Validator;
use super::step::Kind;
use crate::exercise::model::*;
use crate::exercise::raw::*;

impl Validator<'_> {
    pub(super) fn redis_step(
        &mut self,
        raw: &RawStep,
        cmd: &Spanned<String>,
        span: Range<usize>,
        scope: &mut Vec<String>,
    ) -> Option<RedisStep> {
        self.reject_fields(raw, &Kind::Redis(cmd), span);
        if !self.services.redis {
            self.error(
                cmd.span(),
                "a `redis` step needs a Redis: declare `[services.redis]`",
            );
        }
        let words = match split_command(cmd.get_ref()) {
            Ok(w) => w,
            Err(e) => {
                self.error(cmd.span(), e.to_string());
                return None;
            }
        };
        let mut command = Vec::new();
        for word in &words {
            let t = self.template_at(word, cmd.span())?;
            self.check_scope(&TValue::Str(t.clone()), scope, cmd.span());
            command.push(t);
        }
        if command.is_empty() {
            self.error(cmd.span(), "expected a Redis command, e.g. \"GET key\"");
            return None;
        }
        let (timeout, expect, captures) = self.judged(raw, scope);
        Some(RedisStep {
            command,
            timeout,
            expect,
            captures,
        })
    }
}

/// Why a Redis command cannot be split into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum CommandError {
    #[error("unclosed `{0}` in the Redis command")]
    Unclosed(char),
}

/// Splits a Redis command into words, as redis-cli does: on spaces outside `{{ ... }}`
/// and outside quotes. `"..."` takes `\"` and `\\` escapes; `'...'` is literal, so
/// `SET k '{"a": 1}'` stores a JSON text.
fn split_command(s: &str) -> Result<Vec<String>, CommandError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut in_template = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if in_template {
            word.push(c);
            if c == '}' && chars.peek() == Some(&'}') {
                word.push(chars.next().expect("peeked"));
                in_template = false;
            }
        } else if c == '{' && chars.peek() == Some(&'{') {
            word.push(c);
            word.push(chars.next().expect("peeked"));
            in_template = true;
            started = true;
        } else if quote == Some('"') && c == '\\' {
            match chars.next() {
                Some(e @ ('"' | '\\')) => word.push(e),
                Some(other) => {
                    word.push(c);
                    word.push(other);
                }
                None => word.push(c),
            }
        } else if quote == Some(c) {
            quote = None;
        } else if quote.is_none() && (c == '"' || c == '\'') {
            quote = Some(c);
            started = true;
        } else if c.is_whitespace() && quote.is_none() {
            if started {
                words.push(std::mem::take(&mut word));
                started = false;
            }
        } else {
            word.push(c);
            started = true;
        }
    }
    if let Some(q) = quote {
        return Err(CommandError::Unclosed(q));
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::{CommandError, split_command};

    #[test]
    fn redis_commands_split_outside_templates_and_quotes() {
        assert_eq!(
            split_command(r#"SET  k:{{ id }} "two words" {{ gen.int(1, 2) }}"#).unwrap(),
            ["SET", "k:{{ id }}", "two words", "{{ gen.int(1, 2) }}"]
        );
        assert_eq!(split_command(r#"SET k """#).unwrap(), ["SET", "k", ""]);
        assert!(split_command(r#"GET "k"#).is_err());
        assert_eq!(split_command(r#"GET "k"#), Err(CommandError::Unclosed('"')));
        assert_eq!(
            split_command(r#"SET k '{"a": 1}' "say \"hi\" \\ \n""#).unwrap(),
            ["SET", "k", r#"{"a": 1}"#, r#"say "hi" \ \n"#]
        );
    }
}
