//! Errors in an exercise spec, rendered like rustc: `--> file:line:col`, the line, a caret.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem with an exercise spec. Always points at a file, and where it can, at a
/// line and column inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The offending source line, if known.
    pub source_line: Option<String>,
    /// How many characters the caret underlines.
    pub width: usize,
    pub help: Option<String>,
}

impl SpecError {
    /// An error about a whole file (it cannot be read, it is missing...).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        SpecError {
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            message: message.into(),
            source_line: None,
            width: 0,
            help: None,
        }
    }

    /// An error at a byte span of a source text.
    pub fn at(file: &Path, src: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let start = span.start.min(src.len());
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line = src[..start].matches('\n').count() + 1;
        let col = src[line_start..start].chars().count() + 1;
        let end = span.end.clamp(start, line_end);
        let width = src[start..end].chars().count().max(1);
        SpecError {
            file: file.to_path_buf(),
            line,
            col,
            message: message.into(),
            source_line: Some(src[line_start..line_end].trim_end_matches('\r').to_string()),
            width,
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col`, or just the file when no position is known.
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.display().to_string()
        } else {
            format!("{}:{}:{}", self.file.display(), self.line, self.col)
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        write!(f, "  --> {}", self.location())?;
        if let Some(src) = &self.source_line {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            write!(f, "\n{pad} |\n{num} | {src}\n{pad} | ")?;
            let lead: String = src
                .chars()
                .take(self.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "{lead}{}", "^".repeat(self.width))?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// Every problem found in a spec, in file order.
#[derive(Debug, Clone)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{e}")?;
        }
        let n = self.0.len();
        write!(
            f,
            "{n} error{} in the exercise spec",
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for SpecErrors {}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo:
/// at most one edit (a transposition counts as one) per three characters of the longer
/// word, at least one. Jaro-Winkler alone rewards a shared prefix so much that it took
/// `le` for `length`; it only breaks ties here.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter_map(|c| {
            let edits = strsim::osa_distance(word, c);
            let longer = word.chars().count().max(c.chars().count());
            (edits <= (longer / 3).max(1)).then_some((edits, strsim::jaro_winkler(word, c), c))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, c)| c)
}

/// The help line for a `word` that is none of `candidates`: "did you mean `x`?" when
/// one is close enough to be a typo, else `fallback` (what is allowed, or where to look).
pub(crate) fn help_for<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    fallback: Option<String>,
) -> Option<String> {
    did_you_mean(word, candidates)
        .map(|c| format!("did you mean `{c}`?"))
        .or(fallback)
}

/// A TOML or serde error, at its position, with a "did you mean" when one fits.
pub(crate) fn toml_error(file: &Path, src: &str, e: &toml::de::Error) -> SpecError {
    let message = e.message();
    let span = e.span().unwrap_or(0..0);
    let mut err = SpecError::at(file, src, span.clone(), message);
    err.help =
        suggest_for_serde_message(message).or_else(|| quote_the_key(message, src, span.start));
    err
}

/// For TOML's "invalid unquoted key" at a key such as `expect.jsonpath.$.id`: the same
/// line with the key from the bad character on quoted, `expect.jsonpath."$.id"`.
fn quote_the_key(message: &str, src: &str, at: usize) -> Option<String> {
    if !message.starts_with("invalid unquoted key") {
        return None;
    }
    let line_start = src.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let before = src[line_start..at].trim_start();
    let rest = &src[at..];
    let key = rest[..rest.find(['=', '\n']).unwrap_or(rest.len())].trim_end();
    if key.is_empty() || key.contains('"') {
        return None;
    }
    Some(format!(
        "a key with characters such as `$`, `.` or `[` is quoted: write `{before}\"{key}\"`"
    ))
}

/// Adds a "did you mean" to serde's "unknown field `x`, expected one of `a`, `b`" and
/// "unknown variant" messages.
///
/// This reads the message's text because nothing typed reaches us: serde's derived
/// `deny_unknown_fields` reports through `de::Error::unknown_field(field, expected)`,
/// whose default body formats exactly this text into `custom`, `toml::de::Error` does
/// not override it, and it keeps only that message and a span (no field, no list).
/// The text comes from serde (`serde_core::de::Error`), not from us, and only the
/// help line depends on it.
fn suggest_for_serde_message(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (word, tail) = rest.split_once('`')?;
    let names: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    help_for(word, names, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_span() {
        let src = "a = 1\nstauts = 201\n";
        let err = SpecError::at(Path::new("spec.toml"), src, 6..12, "unknown field `stauts`");
        let text = err.to_string();
        assert!(text.contains("--> spec.toml:2:1"), "{text}");
        assert!(text.contains("2 | stauts = 201"), "{text}");
        assert!(text.contains("  | ^^^^^^"), "{text}");
    }

    #[test]
    fn help_suggests_a_close_name_or_falls_back() {
        let names = ["restart", "crash", "wait_ready"];
        assert_eq!(
            help_for("restrat", names, Some("expected one".into())).as_deref(),
            Some("did you mean `restart`?")
        );
        assert_eq!(
            help_for("zzz", names, Some("expected one".into())).as_deref(),
            Some("expected one")
        );
        assert_eq!(help_for("zzz", names, None), None);
    }

    #[test]
    fn a_short_candidate_is_no_typo_of_a_long_word() {
        let names = ["count", "gt", "ge", "lt", "le", "sorted"];
        assert_eq!(did_you_mean("length", names), None);
        assert_eq!(did_you_mean("lte", names), Some("lt"));
        assert_eq!(
            did_you_mean("pionts", ["expr", "points", "stage"]),
            Some("points")
        );
        assert_eq!(
            did_you_mean("stag", ["expr", "points", "stage"]),
            Some("stage")
        );
        assert_eq!(did_you_mean("sotred", names), Some("sorted"));
    }

    #[test]
    fn an_unquoted_jsonpath_key_is_shown_quoted() {
        let src = "[x]\nexpect.jsonpath.$.id = 1\n";
        let at = src.find('$').unwrap_or(0);
        assert_eq!(
            quote_the_key("invalid unquoted key, expected letters", src, at).as_deref(),
            Some(
                "a key with characters such as `$`, `.` or `[` is quoted: write `expect.jsonpath.\"$.id\"`"
            )
        );
    }

    #[test]
    fn suggests_close_field() {
        let msg = "unknown field `stauts`, expected one of `status`, `headers`, `jsonpath`";
        assert_eq!(
            suggest_for_serde_message(msg).as_deref(),
            Some("did you mean `status`?")
        );
        assert_eq!(
            suggest_for_serde_message("unknown field `zzz`, expected `status`"),
            None
        );
    }
}
