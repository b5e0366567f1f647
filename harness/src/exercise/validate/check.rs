//! The checks: ids, `needs`, points and category weights, the `[scoring]` pass mark,
//! and the checks of included files, which share one list of ids with the spec.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use toml::Spanned;

use super::load::stated_threshold_points;
use super::{Validator, is_identifier};
use crate::exercise::error::{SpecError, help_for, toml_error};
use crate::exercise::model::*;
use crate::exercise::raw::*;

const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// What validating checks accumulates across the spec and its included files.
struct ChecksState<'w> {
    /// Ids of the checks so far, in order.
    seen: Vec<String>,
    weights: &'w IndexMap<String, f64>,
    checks: Vec<Check>,
    /// The `[[setup]]`s so far (the spec's, then each included file's), by id.
    setups: IndexMap<String, Setup>,
}

/// A validated `[[setup]]`: its variables and steps, and the names they define.
#[derive(Clone)]
pub(super) struct Setup {
    vars: Vec<(String, TValue)>,
    steps: Vec<Step>,
    scope: Vec<String>,
}

impl Validator<'_> {
    pub(super) fn pass_mark(&mut self, raw: Option<&Spanned<f64>>) -> f64 {
        match raw {
            Some(p) if !(0.0..=100.0).contains(p.get_ref()) => {
                self.error(p.span(), "`pass_mark` is a percentage: expected 0 to 100");
                100.0
            }
            Some(p) => *p.get_ref(),
            None => 100.0,
        }
    }

    /// The checks of the spec, then of each included file, with the category weights
    /// applied; a weight must name a category some check has.
    pub(super) fn all_checks(
        &mut self,
        setups: Vec<Spanned<RawSetup>>,
        raw: Vec<Spanned<RawCheck>>,
        include: &[Spanned<String>],
        scoring: &RawScoring,
        dir: &Path,
    ) -> Vec<Check> {
        let mut weights = IndexMap::new();
        for (category, w) in &scoring.weights {
            if *w.get_ref() > 0.0 && w.get_ref().is_finite() {
                weights.insert(category.clone(), *w.get_ref());
            } else {
                self.error(w.span(), "a weight must be a number above 0");
            }
        }
        let mut state = ChecksState {
            seen: Vec::new(),
            weights: &weights,
            checks: Vec::new(),
            setups: IndexMap::new(),
        };
        self.setups_of(setups, &mut state);
        self.checks_of(raw, &mut state);
        for file in include {
            self.included(file, dir, &mut state);
        }
        for (category, w) in &scoring.weights {
            if !state.checks.iter().any(|c| c.category == *category) {
                self.error(
                    w.span(),
                    format!("a weight for category `{category}`, which no check has"),
                );
            }
        }
        if state.checks.is_empty() && self.errors.is_empty() {
            self.errors.push(SpecError::file(
                self.file,
                "the exercise has no checks: add at least one `[[checks]]`",
            ));
        }
        state.checks
    }

    /// The checks of an included file; its errors point into that file.
    fn included(&mut self, include: &Spanned<String>, dir: &Path, state: &mut ChecksState<'_>) {
        let path = dir.join(include.get_ref());
        let Some(src) = self.read(&path, include.span(), "the included file") else {
            return;
        };
        match toml::from_str::<RawInclude>(&src) {
            Ok(inc) => {
                let mut sub = Validator::new(&path, &src, self.services);
                sub.setups_of(inc.setup, state);
                sub.checks_of(inc.checks, state);
                self.errors.extend(sub.errors);
            }
            Err(e) => self.errors.push(toml_error(&path, &src, &e)),
        }
    }

    fn checks_of(&mut self, raw: Vec<Spanned<RawCheck>>, state: &mut ChecksState<'_>) {
        for check in raw {
            let span = check.span();
            let check = check.into_inner();
            let id = check.id.get_ref().clone();
            if state.seen.contains(&id) {
                self.error(
                    check.id.span(),
                    format!("a check with id `{id}` already exists"),
                );
            }
            let visible = check
                .visibility
                .as_ref()
                .is_none_or(|v| v.get_ref() != "hidden");
            for need in &check.needs {
                let names_hidden = state
                    .checks
                    .iter()
                    .any(|c| c.hidden && c.id == *need.get_ref());
                if visible && names_hidden {
                    self.error(
                        need.span(),
                        format!(
                            "`needs` names the hidden check `{}`: a visible check would name it when skipped",
                            need.get_ref()
                        ),
                    );
                }
                if !state.seen.contains(need.get_ref()) {
                    let fallback = "`needs` names checks that come earlier in the spec";
                    self.error(
                        need.span(),
                        format!(
                            "`needs` names `{}`, which is not an earlier check",
                            need.get_ref()
                        ),
                    )
                    .help = help_for(
                        need.get_ref(),
                        state.seen.iter().map(String::as_str),
                        Some(fallback.into()),
                    );
                }
            }
            let weight = state
                .weights
                .get(check.category.get_ref())
                .copied()
                .unwrap_or(1.0);
            if let Some(mut c) = self.check(check, span, &state.setups) {
                c.points = crate::score::weighted(c.points, weight);
                state.checks.push(c);
            }
            state.seen.push(id);
        }
    }

    /// One check; `None` when it has any error (its steps are still all validated).
    fn check(
        &mut self,
        raw: RawCheck,
        span: Range<usize>,
        setups: &IndexMap<String, Setup>,
    ) -> Option<Check> {
        let errors_before = self.errors.len();
        let id = raw.id.get_ref().clone();
        if !is_identifier(&id) {
            self.error(
                raw.id.span(),
                "a check id must be letters, digits, `-` or `_`",
            );
        }
        let category = raw.category.get_ref().clone();
        if category.is_empty() {
            self.error(raw.category.span(), "the category must not be empty");
        }
        let points = match u32::try_from(*raw.points.get_ref()) {
            Ok(p) if p <= 10_000 => p,
            _ => {
                self.error(
                    raw.points.span(),
                    "`points` must be a whole number from 0 to 10000",
                );
                0
            }
        };
        let timeout = self
            .duration(raw.timeout.as_ref())
            .unwrap_or(DEFAULT_CHECK_TIMEOUT);
        let hidden = self
            .switch(raw.visibility.as_ref(), "visibility", "visible", "hidden")
            .unwrap_or(false);
        let mut scope: Vec<String> = Vec::new();
        let mut vars = Vec::new();
        let mut setup_steps = Vec::new();
        self.scalars.clear();
        self.named_setups(&raw.setup, setups, &mut vars, &mut setup_steps, &mut scope);
        for (name, value) in &raw.vars {
            if let Some(tv) = self.tvalue_in_scope(value.get_ref(), &scope, value.span()) {
                vars.push((name.clone(), tv));
                scope.push(name.clone());
                if let Some(what) = not_a_list(value.get_ref()) {
                    self.scalars.push((name.clone(), what));
                }
            }
        }
        self.threshold_points_add_up(&raw.steps, &raw.points, points);
        if raw.steps.is_empty() {
            self.error(
                raw.id.span(),
                format!("check `{id}` has no steps: add `[[checks.steps]]`"),
            );
        }
        let mut steps = setup_steps;
        for step in raw.steps {
            let span = step.span();
            if let Some(s) = self.step(step.into_inner(), span, &mut scope) {
                steps.push(s);
            }
        }
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Check {
            id,
            title: raw.title,
            category,
            points: f64::from(points),
            timeout,
            hidden,
            needs: raw.needs.iter().map(|n| n.get_ref().clone()).collect(),
            partial: raw.partial,
            cookies: raw.cookies,
            vars,
            steps,
            location: self.location(&span),
        })
    }

    /// When a load step's thresholds give their points, they share out the check's
    /// points (a failed load earns the share its passing thresholds carry): they must add
    /// up to the check's `points`.
    fn threshold_points_add_up(
        &mut self,
        steps: &[Spanned<RawStep>],
        raw: &Spanned<i64>,
        points: u32,
    ) {
        let wrong = steps
            .iter()
            .map(|s| stated_threshold_points(s.get_ref()))
            .find(|(sum, stated)| *stated && (sum - f64::from(points)).abs() > 1e-9);
        if let Some((sum, _)) = wrong {
            let sum = crate::exercise::show_num(sum);
            self.error(
                raw.span(),
                format!("`points = {points}`, but the check's load thresholds carry {sum}"),
            )
            .help = Some(format!(
                "a failed load earns the share of the points its passing thresholds carry: make them add up to {points} (a threshold without `points` carries 1), or set `points = {sum}`"
            ));
        }
    }
}

/// What a variable's value holds when it cannot be a list at run time: a number, a
/// table, or a string that is not one lone `{{ ... }}` (which keeps its value's type).
fn not_a_list(v: &toml::Value) -> Option<&'static str> {
    match v {
        toml::Value::Array(_) => None,
        toml::Value::String(s) => {
            let t = s.trim();
            let lone = t.starts_with("{{") && t.ends_with("}}") && t.matches("{{").count() == 1;
            (!lone).then_some("a string")
        }
        toml::Value::Integer(_) | toml::Value::Float(_) => Some("a number"),
        toml::Value::Boolean(_) => Some("a boolean"),
        toml::Value::Datetime(_) => Some("a date"),
        toml::Value::Table(_) => Some("a table"),
    }
}

impl Validator<'_> {
    /// The `[[setup]]`s of one file: each validated once, on its own (its variables,
    /// then its steps, each seeing what the ones before define), into `state`.
    fn setups_of(&mut self, raw: Vec<Spanned<RawSetup>>, state: &mut ChecksState<'_>) {
        for setup in raw {
            let setup = setup.into_inner();
            let id = setup.id.get_ref().clone();
            if !is_identifier(&id) {
                self.error(
                    setup.id.span(),
                    "a setup id must be letters, digits, `-` or `_`",
                );
            }
            if state.setups.contains_key(&id) {
                self.error(
                    setup.id.span(),
                    format!("a setup with id `{id}` already exists"),
                );
                continue;
            }
            if setup.steps.is_empty() {
                self.error(
                    setup.id.span(),
                    format!("setup `{id}` has no steps: add `[[setup.steps]]`"),
                );
            }
            let mut scope = Vec::new();
            let mut vars = Vec::new();
            self.scalars.clear();
            for (name, value) in &setup.vars {
                if let Some(tv) = self.tvalue_in_scope(value.get_ref(), &scope, value.span()) {
                    vars.push((name.clone(), tv));
                    scope.push(name.clone());
                }
            }
            let mut steps = Vec::new();
            for step in setup.steps {
                let span = step.span();
                if let Some(s) = self.step(step.into_inner(), span, &mut scope) {
                    steps.push(s);
                }
            }
            // Kept even with errors (they are reported): its checks are judged on theirs.
            state.setups.insert(id, Setup { vars, steps, scope });
        }
    }
}

impl Validator<'_> {
    /// The variables, steps and names of the setups a check names, in its order.
    fn named_setups(
        &mut self,
        names: &[Spanned<String>],
        setups: &IndexMap<String, Setup>,
        vars: &mut Vec<(String, TValue)>,
        setup_steps: &mut Vec<Step>,
        scope: &mut Vec<String>,
    ) {
        for name in names {
            match setups.get(name.get_ref()) {
                Some(s) => {
                    vars.extend(s.vars.iter().cloned());
                    setup_steps.extend(s.steps.iter().cloned());
                    scope.extend(s.scope.iter().cloned());
                }
                None => {
                    let fallback = if setups.is_empty() {
                        "declare it first: [[setup]] with an `id` and its `[[setup.steps]]`"
                            .to_string()
                    } else {
                        format!(
                            "setups: {}",
                            setups
                                .keys()
                                .map(String::as_str)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    self.error(
                        name.span(),
                        format!(
                            "`setup` names `{}`, which is no earlier [[setup]]",
                            name.get_ref()
                        ),
                    )
                    .help = help_for(
                        name.get_ref(),
                        setups.keys().map(String::as_str),
                        Some(fallback),
                    );
                }
            }
        }
    }
}
