//! Load steps: the arrival model and its schedule (steady or in stages), the
//! thresholds to meet, and the requests to send (the step's own `http`, or a weighted
//! `mix`).

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::{Validator, a_type};
use crate::exercise::error::help_for;
use crate::exercise::model::*;
use crate::exercise::raw::*;
use crate::loadgen::{
    LoadOptions, Metric, Model, PlannedThreshold, Schedule, Segment, Threshold, ThresholdError,
};
use crate::probe::work::Figure;

/// The settings every load has, whatever its model.
struct Common {
    connections: usize,
    warmup: Duration,
    duration: Option<Duration>,
    timeout: Duration,
}

impl Validator<'_> {
    pub(super) fn load_step(
        &mut self,
        raw: &RawStep,
        load: &Spanned<RawLoad>,
        scope: &[String],
    ) -> Option<LoadStep> {
        let l = load.get_ref();
        let span = load.span();
        let mut options = self.load_options(l, span.clone())?;
        let staged = matches!(options.model, Model::Open(_)) && !l.stages.is_empty();
        options.thresholds = self.thresholds(&l.thresholds, &options.stage_names, staged);
        let mix = self.mix(raw, l, span, scope)?;
        Some(LoadStep { options, mix })
    }

    /// How the load sends: the model, its schedule, connections and timeouts.
    fn load_options(&mut self, l: &RawLoad, span: Range<usize>) -> Option<LoadOptions> {
        let closed = self.switch(l.model.as_ref(), "model", "open", "closed")?;
        let common = self.common(l)?;
        if !closed {
            return self.open_options(l, span, &common);
        }
        if l.rate.is_some() || !l.stages.is_empty() {
            self.error(
                span.clone(),
                "a closed model has `connections` and `duration`, not `rate` or `stages`",
            );
        }
        let Some(d) = common.duration else {
            self.error(span, "a closed-model load needs a `duration`");
            return None;
        };
        let mut options =
            LoadOptions::steady(None, common.connections, common.warmup, d, common.timeout);
        // A closed model has no stages, so no threshold can name one.
        options.stage_names.clear();
        Some(options)
    }

    fn common(&mut self, l: &RawLoad) -> Option<Common> {
        let connections = match &l.connections {
            Some(c) if (1..=10_000).contains(c.get_ref()) => *c.get_ref() as usize,
            Some(c) => {
                self.error(c.span(), "`connections` must be 1 to 10000");
                return None;
            }
            None => 50,
        };
        let warmup = match &l.warmup {
            Some(w) => self.duration(Some(w))?,
            None => Duration::ZERO,
        };
        let duration = match &l.duration {
            Some(d) => Some(self.duration(Some(d))?),
            None => None,
        };
        let timeout = match &l.timeout {
            Some(t) => self.duration(Some(t))?,
            None => Duration::from_secs(5),
        };
        Some(Common {
            connections,
            warmup,
            duration,
            timeout,
        })
    }

    /// An open model: requests due at `rate` per second, steadily or in `stages`; the
    /// warm-up runs at the first rate.
    fn open_options(
        &mut self,
        l: &RawLoad,
        span: Range<usize>,
        common: &Common,
    ) -> Option<LoadOptions> {
        let rate = match &l.rate {
            Some(r) if *r.get_ref() > 0.0 && *r.get_ref() <= 1_000_000.0 => *r.get_ref(),
            Some(r) => {
                self.error(r.span(), "`rate` is requests per second, above 0");
                return None;
            }
            None => {
                self.error(
                    span,
                    "an open-model load needs a `rate` (requests per second)",
                );
                return None;
            }
        };
        let steady = |duration| {
            LoadOptions::steady(
                Some(rate),
                common.connections,
                common.warmup,
                duration,
                common.timeout,
            )
        };
        if l.stages.is_empty() {
            let Some(d) = common.duration else {
                self.error(span, "a load needs a `duration`, or `stages`");
                return None;
            };
            return Some(steady(d));
        }
        if common.duration.is_some() {
            self.error(
                span,
                "with `stages`, each stage has its own duration: drop `duration`",
            );
        }
        let mut segments = Vec::new();
        if !common.warmup.is_zero() {
            segments.push(Segment::hold(common.warmup, rate));
        }
        let mut names = Vec::new();
        let mut current = rate;
        for (k, st) in l.stages.iter().enumerate() {
            let segment = self.stage(st, current)?;
            current = segment.r1;
            segments.push(segment);
            let name = st.get_ref().name.clone();
            names.push(name.unwrap_or_else(|| format!("stage {}", k + 1)));
        }
        // The stages stand where a steady load has its one steady segment; the rest
        // (connections, timeouts) is as for a steady load.
        Some(LoadOptions {
            model: Model::Open(Schedule::new(segments)),
            stage_names: names,
            ..steady(Duration::ZERO)
        })
    }

    /// One stage: hold a `rate`, or ramp from the rate before (`start`) to a `target`.
    fn stage(&mut self, st: &Spanned<RawStage>, start: f64) -> Option<Segment> {
        let s = st.get_ref();
        let d = self.duration(Some(&s.duration))?;
        let (r0, r1) = match (s.rate, s.target) {
            (Some(r), None) if r >= 0.0 => (r, r),
            (None, Some(t)) if t >= 0.0 => (start, t),
            _ => {
                self.error(
                    st.span(),
                    "a stage has either `rate` (hold) or `target` (ramp to), at least 0",
                );
                return None;
            }
        };
        Some(Segment {
            duration: d.as_secs_f64(),
            r0,
            r1,
        })
    }

    /// The thresholds, each judging the whole run or one of the stages `names` (of a
    /// load in `stages` when `staged`).
    fn thresholds(
        &mut self,
        raw: &[Spanned<toml::Value>],
        names: &[String],
        staged: bool,
    ) -> Vec<PlannedThreshold> {
        let mut thresholds = Vec::new();
        for t in raw {
            let Some(parts) = self.threshold_parts(t) else {
                continue;
            };
            let threshold = match Threshold::parse(parts.expr) {
                Ok(th) => th,
                Err(e) => {
                    let help = match &e {
                        ThresholdError::UnknownMetric(name) => {
                            help_for(name, METRICS.iter().copied().chain(Figure::NAMES), None)
                        }
                        _ => None,
                    };
                    self.error(t.span(), format!("bad threshold `{}`: {e}", parts.expr))
                        .help = help;
                    continue;
                }
            };
            if let (Metric::Work(f), Some(_)) = (threshold.metric, parts.stage) {
                self.error(
                    t.span(),
                    format!(
                        "`{}` takes no `stage`: the work counters surround the whole load step, warm-up included",
                        f.name()
                    ),
                )
                .help = Some(format!("drop `stage`: {{ expr = \"{}\" }}", parts.expr));
                continue;
            }
            if let Metric::Work(f) = threshold.metric
                && !self.work_measurable(f, t.span())
            {
                continue;
            }
            if let Metric::Percentile(p) = threshold.metric
                && !MEASURED.contains(&p)
            {
                let help = if p == 100 {
                    "the 100th percentile is the slowest request: write `max`"
                } else {
                    "a load measures p50, p90, p95, p99 and p999 (99.9%), and `max` and `mean`"
                };
                self.error(t.span(), format!("`p{p}` is not measured")).help = Some(help.into());
                continue;
            }
            let stage = match parts.stage {
                None => None,
                Some(name) => match names.iter().position(|n| n == name) {
                    Some(k) => Some(k),
                    None => {
                        let fallback = format!("stages: {}", names.join(", "));
                        self.error(t.span(), format!("no stage named `{name}`"))
                            .help =
                            help_for(name, names.iter().map(String::as_str), Some(fallback));
                        continue;
                    }
                },
            };
            if threshold.metric == Metric::Recovery && !self.recovery_fits(t, stage, names, staged)
            {
                continue;
            }
            thresholds.push(PlannedThreshold {
                threshold,
                stage,
                points: parts.points,
            });
        }
        thresholds
    }

    /// `recovery` measures a later stage of an open-model load in `stages` against the
    /// first: it needs a `stage`, and not the first.
    fn recovery_fits(
        &mut self,
        t: &Spanned<toml::Value>,
        stage: Option<usize>,
        names: &[String],
        staged: bool,
    ) -> bool {
        const EXAMPLE: &str = "e.g. stages = [{ name = \"base\", ... }, { name = \"spike\", ... }, { name = \"after\", ... }] and { expr = \"recovery < 3s\", stage = \"after\" }";
        let problem = if !staged {
            "`recovery` needs an open-model load with `stages`: it measures how a later stage comes back to the first stage's latency"
        } else {
            match stage {
                None => "`recovery` needs a `stage`: the stage whose recovery it measures",
                Some(0) => {
                    let e = self.error(
                        t.span(),
                        format!(
                            "`recovery` cannot judge the first stage `{}`: its latency is the level the later stages come back to",
                            names[0]
                        ),
                    );
                    e.help = Some(EXAMPLE.into());
                    return false;
                }
                Some(_) => return true,
            }
        };
        self.error(t.span(), problem).help = Some(EXAMPLE.into());
        false
    }

    /// A threshold's expression, points and stage: `"p95 < 200ms"`, or a table of
    /// `expr`, `points` and `stage` and no other key.
    fn threshold_parts<'t>(&mut self, t: &'t Spanned<toml::Value>) -> Option<ThresholdParts<'t>> {
        const FORMS: &str = "a threshold is \"p95 < 200ms\" or { expr = \"p95 < 200ms\", points = 2, stage = \"peak\" }";
        let table = match t.get_ref() {
            toml::Value::String(expr) => {
                return Some(ThresholdParts {
                    expr,
                    points: 1.0,
                    stage: None,
                });
            }
            toml::Value::Table(table) => table,
            other => {
                self.error(
                    t.span(),
                    format!("a threshold is a string or a table, not {}", a_type(other)),
                )
                .help = Some(FORMS.into());
                return None;
            }
        };
        let ok = self.known_keys(table, t.span(), "a threshold", THRESHOLD_KEYS, FORMS);
        let expr = match table.get("expr") {
            Some(toml::Value::String(e)) => Some(e),
            _ => {
                self.error(t.span(), "a threshold needs its `expr` as a string")
                    .help = Some(FORMS.into());
                None
            }
        };
        let points = match table.get("points").map(threshold_points) {
            None => Some(1.0),
            Some(Some(p)) => Some(p),
            Some(None) => {
                self.error(t.span(), "a threshold's `points` is a number, 0 or more");
                None
            }
        };
        let stage = match table.get("stage") {
            None => Some(None),
            Some(toml::Value::String(s)) => Some(Some(s)),
            Some(_) => {
                self.error(
                    t.span(),
                    "a threshold's `stage` is a stage's name, as a string",
                );
                None
            }
        };
        Some(ThresholdParts {
            expr: expr?,
            points: points?,
            stage: stage?,
        })
        .filter(|_| ok)
    }

    /// The requests: the step's own `http`, or a weighted `mix`.
    fn mix(
        &mut self,
        raw: &RawStep,
        l: &RawLoad,
        span: Range<usize>,
        scope: &[String],
    ) -> Option<Vec<(u32, HttpStep)>> {
        let mut mix = Vec::new();
        self.only_thresholds_judge(raw);
        if let Some(http) = &raw.http {
            if !l.mix.is_empty() {
                self.error(
                    span.clone(),
                    "a load step sends its own `http` request or a `mix`, not both",
                );
            }
            mix.push((1, self.http_step(raw, http, &mut scope.to_vec())?));
        }
        for entry in &l.mix {
            let e = entry.get_ref();
            let Some(http) = self.entry_request(entry, "a `mix`") else {
                continue;
            };
            self.only_thresholds_judge(e);
            let weight = match &e.weight {
                Some(w) if (1..=1_000_000).contains(w.get_ref()) => *w.get_ref() as u32,
                Some(w) => {
                    self.error(w.span(), "`weight` must be 1 or more");
                    continue;
                }
                None => 1,
            };
            if let Some(step) = self.http_step(e, http, &mut scope.to_vec()) {
                mix.push((weight, step));
            }
        }
        if mix.is_empty() {
            self.error(
                span,
                "a load step needs a request: `http = \"GET /path\"` or a `mix`",
            );
            return None;
        }
        if mix
            .iter()
            .any(|(_, s)| s.concurrent > 1 || s.for_each.is_some() || !s.captures.is_empty())
        {
            self.error(
                span,
                "requests of a load step take no `concurrent`, `for_each` or `capture`",
            );
        }
        Some(mix)
    }
    /// A load judges its requests by its thresholds only (an answer of 400 or more is an
    /// error) and times them out by `load.timeout`: a request's `expect` and `timeout`
    /// would be silently ignored, so each is an error.
    fn only_thresholds_judge(&mut self, raw: &RawStep) {
        if let Some(t) = &raw.timeout {
            self.error(
                t.span(),
                "a load step's requests time out by `load.timeout`",
            )
            .help = Some("move it into the load table: `load = { ..., timeout = \"2s\" }`".into());
        }
        for (key, span) in raw.expect.as_ref().map(RawExpect::keys).unwrap_or_default() {
            self.error(span, format!("`expect.{key}` is never checked in a load step"))
                .help = Some(
                "a load counts every answer of 400 or more, and every timeout, as an error: judge them with a threshold such as \"error_rate < 1%\", and the time with \"p95 < 200ms\"; check single answers in an `http` step before the load".into(),
            );
        }
    }
}

/// The load generator's own metrics, for "did you mean".
const METRICS: &[&str] = &[
    "p50",
    "p90",
    "p95",
    "p99",
    "p999",
    "max",
    "mean",
    "error_rate",
    "rate",
];

/// The percentiles a load measures, as thresholds write them (`p999` is 99.9%).
const MEASURED: &[u32] = &[50, 90, 95, 99, 999];

/// The keys a threshold table may have.
const THRESHOLD_KEYS: &[&str] = &["expr", "points", "stage"];

/// What a threshold says, before its expression is parsed.
struct ThresholdParts<'t> {
    expr: &'t str,
    points: f64,
    stage: Option<&'t String>,
}

/// A threshold's `points`: a number, 0 or more.
fn threshold_points(v: &toml::Value) -> Option<f64> {
    let p = v.as_float().or_else(|| v.as_integer().map(|i| i as f64))?;
    (p.is_finite() && p >= 0.0).then_some(p)
}

/// The points of a load step's thresholds (1 each unless given), and whether any gives
/// its `points`: then they must add up to the check's points.
pub(super) fn stated_threshold_points(raw: &RawStep) -> (f64, bool) {
    let Some(load) = &raw.load else {
        return (0.0, false);
    };
    let mut sum = 0.0;
    let mut stated = false;
    for t in &load.get_ref().thresholds {
        match t.get_ref().get("points") {
            Some(p) => {
                stated = true;
                sum += threshold_points(p).unwrap_or(0.0);
            }
            None => sum += 1.0,
        }
    }
    (sum, stated)
}
