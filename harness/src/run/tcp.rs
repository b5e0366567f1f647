//! `tcp` steps: raw bytes to the server, its answer judged as a JSON document.

use grader_report::Fault;

use super::check::{Runner, StepFail};
use super::document::judge_document;
use crate::exercise::{Pace, TcpStep};
use crate::probe::{TcpError, exchange};
use crate::target::Target;
use crate::template::Context;

impl<T: Target> Runner<'_, T> {
    pub(super) async fn tcp(&self, step: &TcpStep, ctx: &mut Context) -> Result<(), StepFail> {
        let data = step.data.render_string(ctx)?;
        let base = self.target.base_url();
        let shown = shown(
            &data,
            step.pace,
            &base.trim_start_matches("http://").replace(':', " "),
        );
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let doc = exchange(&base, data.as_bytes(), step.pace, step.timeout)
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

/// The request as a command a learner can paste: `printf '...' | nc HOST PORT`, with a
/// slow client's pace spelled as a `perl` loop between them (`read` takes `bytes` at a
/// time, `select` pauses), under a comment that says it in words.
fn shown(data: &str, pace: Option<Pace>, host_port: &str) -> String {
    let printf = format!("printf '{}'", shell_escaped(data));
    match pace {
        None => format!("{printf} | nc {host_port}"),
        Some(p) => format!(
            "# a slow client: {}\n{printf} | perl -e '$| = 1; while (read STDIN, $c, {}) {{ print $c; select undef, undef, undef, {} }}' | nc {host_port}",
            p.describe(),
            p.bytes,
            p.every.as_secs_f64()
        ),
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
    use std::time::Duration;

    use crate::exercise::Pace;

    #[test]
    fn a_slow_client_is_shown_as_a_loop_a_learner_can_run() {
        let pace = Pace {
            bytes: 2,
            every: Duration::from_millis(100),
        };
        assert_eq!(
            super::shown("GET /\r\n", Some(pace), "localhost 8080"),
            "# a slow client: 2 bytes every 100ms\nprintf 'GET /\\r\\n' | perl -e '$| = 1; while (read STDIN, $c, 2) { print $c; select undef, undef, undef, 0.1 }' | nc localhost 8080"
        );
        assert_eq!(
            super::shown("x", None, "localhost 8080"),
            "printf 'x' | nc localhost 8080"
        );
    }

    #[test]
    fn printf_gets_what_was_sent() {
        assert_eq!(
            super::shell_escaped("GET /%41 HTTP/1.1\r\nX: it's\0\r\n\r\n"),
            "GET /%%41 HTTP/1.1\\r\\nX: it'\\''s\\000\\r\\n\\r\\n"
        );
    }
}
