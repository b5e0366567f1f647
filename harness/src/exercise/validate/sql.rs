//! `sql` steps: one query that returns rows, read as a subquery, with as many `params`
//! as it has placeholders.

use std::ops::Range;

use toml::Spanned;

use super::Validator;
use super::step::Kind;
use crate::exercise::model::*;
use crate::exercise::raw::*;

impl Validator<'_> {
    pub(super) fn sql_step(
        &mut self,
        raw: &RawStep,
        sql: &Spanned<String>,
        span: Range<usize>,
        scope: &mut Vec<String>,
    ) -> Option<SqlStep> {
        self.reject_fields(raw, &Kind::Sql(sql), span);
        if sql.get_ref().contains("{{") {
            self.error(
                sql.span(),
                "SQL text is not a template: pass values as `params` and write $1, $2... in the query",
            );
        }
        self.one_select(sql);
        self.params_match(sql, raw.params.len());
        let mut params = Vec::new();
        for p in &raw.params {
            params.push(self.tvalue_in_scope(p.get_ref(), scope, p.span())?);
        }
        let (timeout, expect, captures) = self.judged(raw, scope);
        Some(SqlStep {
            query: sql.get_ref().trim().trim_end_matches(';').to_string(),
            params,
            timeout,
            expect,
            captures,
        })
    }

    /// The grader reads the query's rows as a subquery, `SELECT ... FROM (query) AS q`:
    /// only one statement that returns rows fits there.
    fn one_select(&mut self, sql: &Spanned<String>) {
        let query = sql.get_ref().trim().trim_end_matches(';');
        let first = first_word(query).to_ascii_uppercase();
        let help = "a `sql` step reads the database as the grader sees it: one SELECT (or WITH ... SELECT, VALUES, TABLE), its rows as JSON; change the state through the submission's API";
        if !READS.contains(&first.as_str()) {
            let what = if first.is_empty() {
                "nothing".to_string()
            } else {
                format!("`{first}`")
            };
            self.error(
                sql.span(),
                format!("a `sql` step runs one SELECT, not {what}"),
            )
            .help = Some(help.into());
        } else if outside_strings(query).any(|(_, c)| c == ';') {
            self.error(
                sql.span(),
                "a `sql` step runs one statement: drop the `;` inside",
            )
            .help = Some(help.into());
        }
    }

    /// Postgres refuses a query whose `$1`, `$2`... and bound values differ in number.
    pub(super) fn params_match(&mut self, sql: &Spanned<String>, given: usize) {
        let used = highest_placeholder(sql.get_ref());
        if used == given {
            return;
        }
        let uses = match used {
            0 => "no placeholder".to_string(),
            1 => "$1".to_string(),
            n => format!("$1 to ${n}"),
        };
        let values = if given == 1 { "value" } else { "values" };
        self.error(
            sql.span(),
            format!("the query uses {uses}, but `params` gives {given} {values}"),
        )
        .help = Some("give one value in `params` for each of $1, $2... in the query".into());
    }
}

/// The characters of a query outside its '...' strings, with their byte offsets.
pub(super) fn outside_strings(query: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut in_string = false;
    query.char_indices().filter(move |(_, c)| {
        if *c == '\'' {
            in_string = !in_string;
        }
        !in_string && *c != '\''
    })
}

/// The highest `$N` in a query, outside '...' strings (0 when there is none).
fn highest_placeholder(query: &str) -> usize {
    outside_strings(query)
        .filter(|(_, c)| *c == '$')
        .filter_map(|(i, _)| {
            let digits: String = query[i + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// The statements that can stand as a subquery.
const READS: &[&str] = &["SELECT", "WITH", "VALUES", "TABLE"];

/// The first word of a query, after blanks, `--` comments and opening parentheses.
fn first_word(query: &str) -> &str {
    let mut rest = query;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        match rest.strip_prefix("--") {
            Some(comment) => rest = comment.split_once('\n').map_or("", |(_, r)| r),
            None => break,
        }
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::{first_word, highest_placeholder, outside_strings};

    #[test]
    fn placeholders_and_semicolons_count_outside_strings() {
        assert_eq!(highest_placeholder("SELECT $2::int, '$9' AS s, $1"), 2);
        assert_eq!(highest_placeholder("SELECT 1"), 0);
        assert!(!outside_strings("SELECT 'a;b'").any(|(_, c)| c == ';'));
        assert!(outside_strings("SELECT 1; DELETE FROM t").any(|(_, c)| c == ';'));
        assert_eq!(first_word("-- why\n  (select 1)"), "select");
    }
}
