//! The load step: requests drawn from the step's weighted mix, run by the load
//! generator, judged by its thresholds. It returns its figures with its outcome.

use std::sync::Arc;

use grader_report::{LoadReport, ThresholdResult};
use rand::Rng;

use super::check::{Runner, StepFail};
use super::http::render_request;
use super::{score, seed};
use crate::exercise::LoadStep;
use crate::loadgen::{self, MakeRequest};
use crate::target::Target;
use crate::template::Context;

impl<T: Target> Runner<'_, T> {
    pub(super) async fn load(
        &self,
        step: &LoadStep,
        ctx: &Context,
    ) -> (Result<(), StepFail>, LoadReport) {
        let make = request_maker(step, ctx);
        let seed = seed::for_scope(self.config.seed, "load");
        let _permit = match &self.config.load_gate {
            Some(gate) => gate.clone().acquire_owned().await.ok(),
            None => None,
        };
        let report = loadgen::run(&step.options, &self.target.base_url(), seed, make).await;
        (judge(&report), report)
    }
}

/// Request `i` of the load: an entry of the mix picked by weight, rendered with its
/// own seed.
fn request_maker(step: &LoadStep, ctx: &Context) -> Arc<MakeRequest> {
    let total_weight: u32 = step.mix.iter().map(|(w, _)| *w).sum();
    let mix = step.mix.clone();
    let base = ctx.clone();
    Arc::new(move |_, rng| {
        let mut pick = rng.random_range(0..total_weight.max(1));
        let entry = mix
            .iter()
            .find(|(w, _)| {
                let hit = pick < *w;
                pick = pick.saturating_sub(*w);
                hit
            })
            .map_or(&mix[0].1, |(_, s)| s);
        let mut c = base.clone();
        c.reseed(rng.random());
        render_request(entry, &mut c)
    })
}

/// A load that stopped early fails; so does one with a failed threshold, with the
/// share of points its passing thresholds carry.
fn judge(report: &LoadReport) -> Result<(), StepFail> {
    if let Some(why) = &report.aborted {
        return Err(StepFail::new(format!("the load stopped early: {why}")));
    }
    let failed: Vec<&ThresholdResult> = report.thresholds.iter().filter(|t| !t.passed).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let list = |show: fn(&ThresholdResult) -> String| {
        failed
            .iter()
            .map(|t| show(t))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut f = StepFail::new(format!(
        "{} of {} load thresholds failed: {}",
        failed.len(),
        report.thresholds.len(),
        list(|t| match &t.stage {
            Some(s) => format!("{} in stage `{s}` (measured {})", t.expr, t.actual),
            None => format!("{} (measured {})", t.expr, t.actual),
        })
    ));
    f.failure.expected = Some(list(|t| t.expr.clone()));
    f.failure.actual = Some(list(|t| t.actual.clone()));
    f.credit = score::threshold_credit(&report.thresholds);
    // A figure out of its bounds: a plain hint about the load is about this.
    f.cause = crate::exercise::Cause::Value;
    Err(f)
}
