//! `tcp` steps: raw bytes to the server, its answer judged as a JSON document.

use grader_report::Fault;

use super::check::{Runner, StepFail};
use super::document::judge_document;
use crate::exercise::TcpStep;
use crate::probe::{TcpError, exchange};
use crate::target::Target;
use crate::template::Context;

impl<T: Target> Runner<'_, T> {
    pub(super) async fn tcp(&self, step: &TcpStep, ctx: &mut Context) -> Result<(), StepFail> {
        let data = step.data.render_string(ctx)?;
        let base = self.target.base_url();
        let shown = format!(
            "printf '{}' | nc {}",
            shell_escaped(&data),
            base.trim_start_matches("http://").replace(':', " ")
        );
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let doc = exchange(&base, data.as_bytes(), step.timeout)
            .await
            .map_err(|e| {
                let mut f = StepFail::new(format!("tcp: {e}"));
                f.failure.request = Some(shown.clone());
                if let TcpError::Address(_) = e {
                    f.fault = Fault::Grader;
                }
                f
            })?;
        judge_document(&step.expect, &step.captures, &doc, &shown, ctx)
    }
}

/// The bytes as `printf` would be given them in single quotes: escapes for what is
/// not printable, `'` and `\` and `%` spelled so printf prints them.
fn shell_escaped(data: &str) -> String {
    let mut out = String::new();
    for c in data.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '%' => out.push_str("%%"),
            '\'' => out.push_str("'\\''"),
            c if c.is_control() => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn printf_gets_what_was_sent() {
        assert_eq!(
            super::shell_escaped("GET /%41 HTTP/1.1\r\nX: it's\0\r\n\r\n"),
            "GET /%%41 HTTP/1.1\\r\\nX: it'\\''s\\000\\r\\n\\r\\n"
        );
    }
}
