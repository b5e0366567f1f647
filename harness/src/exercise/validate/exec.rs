//! `exec` steps: statements that write the learner's database as a grader role (bulk
//! data before an efficiency check), judged only by how many rows they affected.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::Validator;
use super::sql::outside_strings;
use super::step::Kind;
use crate::exercise::model::*;
use crate::exercise::raw::*;

/// An `exec` step's timeout unless it says: bulk writes take longer than a read.
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest an `exec` step may run.
const MAX_EXEC_TIMEOUT: Duration = Duration::from_secs(300);

/// The predicates `expect.affected` takes.
const AFFECTED_PREDICATES: &[&str] = &["equals", "not_equals", "gt", "ge", "lt", "le"];

impl Validator<'_> {
    pub(super) fn exec_step(
        &mut self,
        raw: &RawStep,
        sql: &Spanned<String>,
        span: Range<usize>,
        scope: &[String],
    ) -> Option<ExecStep> {
        self.reject_fields(raw, &Kind::Exec(sql), span);
        if !self.services.postgres {
            self.error(
                sql.span(),
                "an `exec` step writes the exercise's database: declare `[services.postgres]`",
            );
        }
        let text = sql.get_ref().trim();
        if text.trim_end_matches(';').trim().is_empty() {
            self.error(sql.span(), "an `exec` step needs SQL to run, e.g. \"INSERT INTO todos (title) SELECT 'todo ' || g FROM generate_series(1, 100000) g\"");
            return None;
        }
        if text.contains("{{") {
            self.error(
                sql.span(),
                "SQL text is not a template: pass values as `params` and write $1, $2... in the query",
            );
        }
        self.params_match(sql, raw.params.len());
        if !raw.params.is_empty() && statements(text) > 1 {
            self.error(
                sql.span(),
                "with `params`, an `exec` step runs one statement: PostgreSQL binds parameters to a single statement",
            )
            .help = Some(
                "split the statements into `exec` steps of their own, or write the values into SQL that takes no `params`".into(),
            );
        }
        let mut params = Vec::new();
        for p in &raw.params {
            params.push(self.tvalue_in_scope(p.get_ref(), scope, p.span())?);
        }
        if let Some((name, first)) = raw.capture.first() {
            self.error(
                first.span(),
                format!("`capture.{name}`: an `exec` step returns no rows to capture from"),
            )
            .help = Some("read what it wrote with a `sql` step after it, and capture there".into());
        }
        let expect = self.affected(raw.expect.as_ref(), scope);
        let timeout = self.exec_timeout(raw.timeout.as_ref())?;
        Some(ExecStep {
            sql: text.to_string(),
            params,
            timeout,
            expect,
        })
    }

    /// `expect.affected` (a number, or numeric predicates), judged as `$.affected` of
    /// `{"affected": N}`; any other expectation is an error.
    fn affected(&mut self, raw: Option<&RawExpect>, scope: &[String]) -> Expect {
        let mut expect = Expect::default();
        let Some(raw) = raw else {
            return expect;
        };
        for (key, span) in raw.keys() {
            if key != "affected" {
                self.error(
                    span,
                    format!("`expect.{key}` does not belong in an `exec` step: it checks only `expect.affected`"),
                )
                .help = Some(
                    "an `exec` step returns no rows; judge how many rows it wrote with `expect.affected = { ge = 1 }`, and what it wrote with a `sql` step after it".into(),
                );
            }
        }
        let Some(value) = &raw.affected else {
            return expect;
        };
        let numeric = match value.get_ref() {
            toml::Value::Integer(_) => true,
            toml::Value::Table(t) => t
                .keys()
                .all(|k| k == "hint" || AFFECTED_PREDICATES.contains(&k.as_str())),
            _ => false,
        };
        if !numeric {
            self.error(
                value.span(),
                "`expect.affected` takes a whole number or numeric predicates, e.g. 100000 or { ge = 1 }",
            )
            .help = Some(format!("predicates: {}", AFFECTED_PREDICATES.join(", ")));
            return expect;
        }
        let predicates = self.predicates(value, scope);
        let hint = self.assertion_hint(value);
        if let Some(query) = self.query("$.affected", value.span()) {
            expect.jsonpath.push(JsonAssert {
                query,
                predicates,
                hint,
            });
        }
        expect
    }

    /// `DEFAULT_EXEC_TIMEOUT`, or a duration up to `MAX_EXEC_TIMEOUT`.
    fn exec_timeout(&mut self, raw: Option<&Spanned<String>>) -> Option<Duration> {
        let Some(raw) = raw else {
            return Some(DEFAULT_EXEC_TIMEOUT);
        };
        let d = self.duration(Some(raw))?;
        if d > MAX_EXEC_TIMEOUT {
            self.error(raw.span(), "an `exec` step runs for at most \"300s\"");
            return None;
        }
        Some(d)
    }
}

/// How many statements the text holds: its `;`s outside strings, and one more unless
/// it ends with one.
fn statements(text: &str) -> usize {
    let body = text.trim_end().trim_end_matches(';');
    outside_strings(body).filter(|(_, c)| *c == ';').count() + 1
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn statements_are_counted_outside_strings() {
        assert_eq!(statements("INSERT INTO t VALUES ('a;b');"), 1);
        assert_eq!(statements("DELETE FROM t; INSERT INTO t VALUES (1)"), 2);
        assert_eq!(statements("UPDATE t SET x = 1"), 1);
    }
}
