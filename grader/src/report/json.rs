//! `report.json`: the contract itself, as `grader-report` writes it. It keeps what the
//! submission sent exactly; JSON already escapes C0 characters (`\u001b`), and the few
//! that `inert` shows and JSON may hold raw (DEL, C1, the bidirectional overrides,
//! U+FFFE/U+FFFF) are escaped the same way, so `cat report.json` sends none to a terminal.

use grader_report::Report;

use super::text::needs_escape;

pub(crate) fn render(report: &Report) -> String {
    escape_controls(&grader_report::to_json(report))
}

/// JSON text with every character `inert` would show written as a `\uXXXX` escape. Such
/// characters are never JSON syntax, only string content, so the value read back is
/// the same; all of them are in the Basic Multilingual Plane (one escape each).
fn escape_controls(json: &str) -> String {
    if !json.chars().any(needs_escape) {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn raw_controls_are_escaped_and_the_value_kept() {
        let mut r = super::super::fixture::report();
        let sent = "\x1b[31m \u{7f} \u{9b}2J \u{202e} \u{ffff} <b>";
        r.log_tail = Some(sent.into());
        let text = super::render(&r);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
        assert!(text.contains(r#"\u001b[31m \u007f \u009b2J \u202e \uffff <b>"#));
        let back: grader_report::Report = serde_json::from_str(&text).expect("JSON");
        assert_eq!(back.log_tail.as_deref(), Some(sent));
    }
}
