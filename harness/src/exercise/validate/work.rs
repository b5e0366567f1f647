//! Work bounds: `expect.work.NAME = { le = 3 }` on an `http` step, and the services a
//! work figure needs (load thresholds name figures too).

use std::ops::Range;

use indexmap::IndexMap;
use toml::Spanned;

use super::{Validator, a_type};
use crate::exercise::error::help_for;
use crate::exercise::model::{WorkAssert, WorkBound, WorkOp};
use crate::probe::work::Figure;

const FORMS: &str = "a work bound is a number (equals) or a table of `lt`, `le`, `gt`, `ge`, `equals`, e.g. `expect.work.statements = { le = 3 }`";

impl Validator<'_> {
    /// `expect.work`: each figure named, and the bounds it must keep.
    pub(super) fn work_asserts(
        &mut self,
        raw: &IndexMap<String, Spanned<toml::Value>>,
        http: bool,
    ) -> Vec<WorkAssert> {
        let mut out = Vec::new();
        for (name, value) in raw {
            if !http {
                self.error(
                    value.span(),
                    "`expect.work` is for `http` steps (a load step has thresholds such as \"statements <= 3\")",
                );
                continue;
            }
            let Some(figure) = Figure::parse(name) else {
                let fallback = format!("work figures: {}", Figure::NAMES.join(", "));
                self.error(value.span(), format!("unknown work figure `{name}`"))
                    .help = help_for(name, Figure::NAMES, Some(fallback));
                continue;
            };
            if !self.work_measurable(figure, value.span()) {
                continue;
            }
            let bounds = self.work_bounds(figure, value);
            if !bounds.is_empty() {
                out.push(WorkAssert { figure, bounds });
            }
        }
        out
    }

    /// Whether the exercise has what `figure` counts (PostgreSQL, Redis, the upstream
    /// mock); an error at `span` if not.
    pub(super) fn work_measurable(&mut self, figure: Figure, span: Range<usize>) -> bool {
        let (has, service) = match figure {
            Figure::Statements
            | Figure::PagesRead
            | Figure::RowsRead
            | Figure::Transactions
            | Figure::ConnectionsOpened => (self.services.postgres, "[services.postgres]"),
            Figure::RedisCommands => (self.services.redis, "[services.redis]"),
            Figure::UpstreamCalls => (self.services.upstream, "[services.upstream]"),
            Figure::Cpu | Figure::MemoryGrowth => (true, ""),
        };
        if !has {
            self.error(
                span,
                format!(
                    "`{}` is counted in the exercise's {service}, which this spec does not declare",
                    figure.name()
                ),
            );
        }
        has
    }

    fn work_bounds(&mut self, figure: Figure, value: &Spanned<toml::Value>) -> Vec<WorkBound> {
        let span = value.span();
        let table = match value.get_ref() {
            toml::Value::Table(t) => t,
            other => {
                return self
                    .work_number(figure, other, span)
                    .map(|v| {
                        vec![WorkBound {
                            op: WorkOp::Eq,
                            value: v,
                        }]
                    })
                    .unwrap_or_default();
            }
        };
        if table.is_empty() {
            self.error(span.clone(), "an empty work bound").help = Some(FORMS.into());
        }
        let mut bounds = Vec::new();
        for (key, v) in table {
            let op = match key.as_str() {
                "lt" => WorkOp::Lt,
                "le" => WorkOp::Le,
                "gt" => WorkOp::Gt,
                "ge" => WorkOp::Ge,
                "equals" => WorkOp::Eq,
                other => {
                    self.error(span.clone(), format!("`{other}` is not a work bound"))
                        .help = help_for(
                        other,
                        ["lt", "le", "gt", "ge", "equals"],
                        Some(FORMS.into()),
                    );
                    continue;
                }
            };
            if let Some(value) = self.work_number(figure, v, span.clone()) {
                bounds.push(WorkBound { op, value });
            }
        }
        bounds
    }

    /// A bound in the figure's unit: a number; for `cpu` a duration ("20ms", kept in
    /// milliseconds), for `memory_growth` a size ("64MiB", kept in bytes).
    fn work_number(&mut self, figure: Figure, v: &toml::Value, span: Range<usize>) -> Option<f64> {
        let n = match (v, figure) {
            (toml::Value::Integer(i), _) => Some(*i as f64),
            (toml::Value::Float(f), _) if f.is_finite() => Some(*f),
            (toml::Value::String(s), Figure::Cpu) => {
                crate::exercise::parse_duration(s).map(|d| d.as_secs_f64() * 1000.0)
            }
            (toml::Value::String(s), Figure::MemoryGrowth) => {
                crate::exercise::parse_bytes(s).map(|b| b as f64)
            }
            _ => None,
        };
        if n.is_none() {
            let want = match figure {
                Figure::Cpu => "a duration such as \"20ms\" (or a number of milliseconds)",
                Figure::MemoryGrowth => "a size such as \"64MiB\" (or a number of bytes)",
                _ => "a number",
            };
            self.error(
                span,
                format!(
                    "`{}` is bounded by {want}, not {}",
                    figure.name(),
                    a_type(v)
                ),
            );
        }
        n
    }
}
