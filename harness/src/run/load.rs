//! The load step: requests drawn from the step's weighted mix, run by the load
//! generator, judged by its thresholds. It returns its figures with its outcome.

use std::sync::Arc;

use grader_report::{LoadReport, ThresholdResult, WorkReport};
use rand::Rng;

use super::check::{Runner, StepFail};
use super::request::render_request;
use super::{score, seed, work};
use crate::exercise::LoadStep;
use crate::loadgen::{self, MakeRequest, Metric};
use crate::target::Target;
use crate::template::Context;

impl<T: Target> Runner<'_, T> {
    /// The load, with the work the server did for it (step `step`): every figure the
    /// exercise has is counted, and the work thresholds are judged on them.
    pub(super) async fn load(
        &self,
        step: &LoadStep,
        ctx: &Context,
        number: usize,
    ) -> (Result<(), StepFail>, LoadReport, WorkReport) {
        let make = request_maker(step, ctx);
        let seed = seed::for_scope(self.config.seed, "load");
        // Counted before the gate is taken and after it is given back: the wait for the
        // database's statistics (when a figure needs it) does not hold up the class.
        let lazy = step
            .options
            .thresholds
            .iter()
            .any(|t| match t.threshold.metric {
                Metric::Work(f) => f.flushed_late(),
                _ => false,
            });
        let meter = self.meter(lazy).await;
        let permit = super::gate::take(
            self.config.load_gate.as_ref(),
            step.options.slots(),
            &self.paused,
        )
        .await;
        let (mut report, sent) =
            loadgen::run_counted(&step.options, &self.target.base_url(), seed, make).await;
        drop(permit);
        // Warm-up included: the counters surround the whole step.
        let work = self.count(meter, number, sent).await;
        let thresholds = &step.options.thresholds;
        let outcome = work::judge_thresholds(thresholds, &mut report, &work).and_then(|()| {
            judge(&report).map_err(|mut f| {
                if let Some((advice, evidence)) = work::threshold_advice(thresholds, &report, &work)
                {
                    f.failure.message = format!("{}; {advice}", f.failure.message);
                    if let Some(actual) = &mut f.failure.actual {
                        actual.push_str(&evidence);
                    }
                }
                f
            })
        });
        (outcome, report, work)
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
        list(|t| {
            let said = match &t.stage {
                Some(s) => format!("{} in stage `{s}` (measured {})", t.expr, t.actual),
                None => format!("{} (measured {})", t.expr, t.actual),
            };
            match &t.note {
                Some(note) => format!("{said}: {note}"),
                None => said,
            }
        })
    ));
    f.failure.expected = Some(list(|t| t.expr.clone()));
    f.failure.actual = Some(list(|t| t.actual.clone()));
    f.credit = score::threshold_credit(&report.thresholds);
    // A figure out of its bounds: a plain hint about the load is about this.
    f.cause = crate::exercise::Cause::Value;
    Err(f)
}
