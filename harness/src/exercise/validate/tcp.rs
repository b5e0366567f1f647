//! `tcp` steps: raw bytes sent to the server (a template), the answer judged as a JSON
//! document; `send` paces them as a slow client.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::Validator;
use super::step::Kind;
use crate::exercise::model::*;
use crate::exercise::raw::*;
use crate::template::Template;

/// The pauses of a slow client (`send`'s `every`).
const PACE_EVERY: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(10)..=Duration::from_secs(10);
/// The most bytes a slow client writes at a time.
const PACE_MAX_BYTES: i64 = 65_536;
/// The longest a slow client takes to send.
const PACE_MAX: Duration = Duration::from_secs(60);

impl Validator<'_> {
    /// `tcp = "..."`: the bytes (a template) sent raw to the server; the answer is
    /// judged as a JSON document.
    pub(super) fn tcp_step(
        &mut self,
        raw: &RawStep,
        data: &Spanned<String>,
        span: Range<usize>,
        scope: &mut Vec<String>,
    ) -> Option<TcpStep> {
        self.reject_fields(raw, &Kind::Tcp(data), span);
        if data.get_ref().is_empty() {
            self.error(
                data.span(),
                "a `tcp` step sends something: e.g. \"GET / HTTP/1.1\\r\\n\\r\\n\"",
            );
            return None;
        }
        let data = self.template_in_scope(data, scope)?;
        let (timeout, expect, captures) = self.judged(raw, scope);
        let pace = match &raw.send {
            Some(send) => Some(self.pace(send, &data, timeout)?),
            None => None,
        };
        Some(TcpStep {
            data,
            pace,
            timeout,
            expect,
            captures,
        })
    }

    /// `send = { bytes = 1, every = "100ms" }`: a slow client. `bytes` from 1 to
    /// `PACE_MAX_BYTES` (default 1), `every` within `PACE_EVERY`; the pauses add up to
    /// at most `PACE_MAX` and end before the step's timeout (counted on the text's
    /// literal bytes, the least a template renders to).
    fn pace(
        &mut self,
        send: &Spanned<toml::Value>,
        data: &Template,
        timeout: Duration,
    ) -> Option<Pace> {
        const FORMS: &str = "send = { bytes = 1, every = \"100ms\" }: `bytes` at a time (default 1), a pause of `every` between them";
        let span = send.span();
        let toml::Value::Table(t) = send.get_ref() else {
            self.error(
                span,
                format!("`send` is a table, not {}", super::a_type(send.get_ref())),
            )
            .help = Some(FORMS.into());
            return None;
        };
        if !self.known_keys(t, span.clone(), "`send`", &["bytes", "every"], FORMS) {
            return None;
        }
        let every = match t.get("every") {
            None => {
                self.error(
                    span,
                    "`send` needs `every`, the pause between two writes, e.g. every = \"100ms\"",
                )
                .help = Some(FORMS.into());
                return None;
            }
            Some(toml::Value::String(e)) => {
                self.duration(Some(&Spanned::new(span.clone(), e.clone())))?
            }
            Some(other) => {
                self.error(
                    span,
                    format!(
                        "`every` is a duration string such as \"100ms\", not {}",
                        super::a_type(other)
                    ),
                )
                .help = Some(FORMS.into());
                return None;
            }
        };
        if !PACE_EVERY.contains(&every) {
            self.error(span, "`every` lasts from \"10ms\" to \"10s\"");
            return None;
        }
        let bytes = match t.get("bytes") {
            None => 1,
            Some(toml::Value::Integer(n)) if (1..=PACE_MAX_BYTES).contains(n) => *n,
            Some(_) => {
                self.error(
                    span,
                    format!("`bytes` is a whole number from 1 to {PACE_MAX_BYTES}"),
                )
                .help = Some(FORMS.into());
                return None;
            }
        };
        let pace = Pace {
            bytes: usize::try_from(bytes).unwrap_or(1),
            every,
        };
        self.pace_fits(pace, span, data, timeout).then_some(pace)
    }

    /// Whether a slow client's pauses fit: something to pace, at most `PACE_MAX` of
    /// them, ending before the step's `timeout`.
    fn pace_fits(
        &mut self,
        pace: Pace,
        span: Range<usize>,
        data: &Template,
        timeout: Duration,
    ) -> bool {
        let Pace { bytes, every } = pace;
        let len = data.literal_len();
        // A template renders to its literal text and more.
        let at_least = if data.is_literal() { "" } else { "at least " };
        let takes = pace.duration(len);
        if takes.is_zero() && at_least.is_empty() {
            self.error(
                span,
                format!(
                    "`send` paces nothing: the {len} bytes go in one write of `bytes = {bytes}`"
                ),
            )
            .help = Some("send fewer `bytes` at a time, or leave `send` out".into());
            return false;
        }
        if takes > PACE_MAX {
            self.error(
                span,
                format!(
                    "sending {at_least}{len} bytes, {bytes} at a time every {}, takes {}: a slow client sends for at most \"60s\"",
                    spell(every),
                    spell(takes)
                ),
            )
            .help = Some("send more `bytes` at a time, pause less, or send less".into());
            return false;
        }
        if takes >= timeout {
            self.error(
                span,
                format!(
                    "sending {at_least}{len} bytes, {bytes} at a time every {}, takes {}: not within the step's `timeout` of {}",
                    spell(every),
                    spell(takes),
                    spell(timeout)
                ),
            )
            .help = Some(format!(
                "give the step a longer `timeout` (e.g. timeout = \"{}\"), or send faster",
                spell(takes + Duration::from_secs(2))
            ));
            return false;
        }
        true
    }
}
