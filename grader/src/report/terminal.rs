//! The terminal renderings of a run's events: for one run, progress lines while it
//! works, then each check and the score (colours only on a terminal, never with
//! NO_COLOR); for a class, a line per learner as each finishes.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};

use grader_report::{CheckResult, CheckStatus, Failure, Report, RunStatus};

use crate::report::{pts, verdict};
use crate::run::{Reporter, RunEvent};

/// One run on a terminal (or a pipe): what `grader grade` shows.
pub(crate) struct Terminal {
    color: bool,
    /// A spinner with the current phase, on a terminal only.
    spinner: Option<indicatif::ProgressBar>,
}

impl Reporter for Terminal {
    fn report(&self, event: &RunEvent<'_>) {
        match event {
            RunEvent::RunStarted {
                submission,
                exercise,
                run_id,
                seed,
            } => self.step(&format!(
                "grading {} against {exercise} (run {run_id}, seed {seed})",
                submission.display()
            )),
            RunEvent::VariantApplying { patch } => self.step(&format!(
                "applying {} to its reference solution",
                patch.display()
            )),
            RunEvent::FetchStarted { source } => self.step(&format!("fetching {source}")),
            RunEvent::FetchFinished { commit } => self.step(&format!("grading commit {commit}")),
            RunEvent::Images { line } | RunEvent::SandboxStarting { line } => self.step(line),
            RunEvent::BuildStarted { dir, log } => self.step(&format!(
                "building {} (log: {})",
                dir.display(),
                log.display()
            )),
            RunEvent::AppStarting => self.step("starting the submission"),
            RunEvent::SandboxReady { took, checks } => self.step(&format!(
                "ready after {:.1}s; running {checks} checks",
                took.as_secs_f64()
            )),
            RunEvent::Check(harness::Event::CheckStarted {
                index,
                total,
                check,
            }) => self.working(&format!("check {}/{total}: {}", index + 1, check.id)),
            RunEvent::Check(harness::Event::CheckFinished { result, .. }) => self.check(result),
            RunEvent::RunFinished {
                report,
                report_path,
            } => self.summary(report, &report_path.display().to_string()),
            _ => {}
        }
    }
}

impl Terminal {
    pub(crate) fn new(no_color: bool) -> Terminal {
        let color = !no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal();
        let spinner = std::io::stdout().is_terminal().then(|| {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.enable_steady_tick(std::time::Duration::from_millis(120));
            pb
        });
        Terminal { color, spinner }
    }

    /// Prints a line above the spinner (or plainly when there is none).
    fn out(&self, line: String) {
        match &self.spinner {
            Some(pb) => pb.println(line),
            None => {
                println!("{line}");
                let _ = std::io::stdout().flush();
            }
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// What is happening now, on the spinner only.
    fn working(&self, text: &str) {
        if let Some(pb) = &self.spinner {
            pb.set_message(text.to_string());
        }
    }

    /// A progress line.
    pub(crate) fn step(&self, text: &str) {
        if let Some(pb) = &self.spinner {
            pb.set_message(text.to_string());
        }
        self.out(format!("{} {text}", self.paint("1;34", "==>")));
    }

    fn check(&self, r: &CheckResult) {
        let (tag, code) = match r.status {
            CheckStatus::Passed => ("PASS", "1;32"),
            CheckStatus::Failed => ("FAIL", "1;31"),
            CheckStatus::Skipped => ("SKIP", "1;33"),
            CheckStatus::Error => ("ERROR", "1;35"),
        };
        let points = format!("{}/{}", pts(r.earned), pts(r.points));
        let title = if r.status == CheckStatus::Passed {
            r.title.clone()
        } else {
            r.failure
                .as_ref()
                .map_or(r.title.clone(), |f| f.message.clone())
        };
        self.out(format!(
            "  {} {:<20} {:>5}  {}",
            self.paint(code, &format!("{tag:<5}")),
            r.id,
            points,
            title
        ));
        if let Some(l) = &r.load {
            let pad = "                ";
            let rate = match l.target_rate {
                Some(t) => format!("{:.1}/s of {:.1}/s asked", l.achieved_rate, t),
                None => format!("{:.1}/s", l.achieved_rate),
            };
            let unc = l
                .uncorrected_ms
                .map(|u| format!(" (uncorrected p99 {:.1})", u.p99))
                .unwrap_or_default();
            self.out(format!(
                "{pad}{} {rate}, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms{unc}, {} errors in {} requests",
                self.paint("2", "load:    "),
                l.latency_ms.p50,
                l.latency_ms.p95,
                l.latency_ms.p99,
                l.requests - l.ok,
                l.requests
            ));
        }
        if let Some(f) = &r.failure
            && r.status != CheckStatus::Skipped
        {
            self.failure(r, f);
        }
    }

    /// A failed check's details: where, the diff, the hint, expected and actual, the
    /// request and the response.
    fn failure(&self, r: &CheckResult, f: &Failure) {
        let pad = "                ";
        let dim = |s: &str| self.paint("2", s);
        if !f.location.is_empty() {
            self.out(format!(
                "{pad}{} {} — {}",
                dim("check:"),
                r.title,
                dim(&format!("step {} at {}", f.step, f.location))
            ));
        }
        if let Some(d) = &f.diff {
            self.out(format!("{pad}{}", dim("diff:")));
            for line in d.lines().take(40) {
                self.out(format!("{pad}  {line}"));
            }
        }
        if let Some(h) = &f.hint {
            self.out(format!("{pad}{} {h}", dim("hint:    ")));
        }
        if let Some(e) = &f.expected {
            self.out(format!("{pad}{} {e}", dim("expected:")));
        }
        if let Some(a) = &f.actual {
            self.out(format!("{pad}{} {a}", dim("actual:  ")));
        }
        if let Some(req) = &f.request {
            self.out(format!("{pad}{} {req}", dim("request: ")));
        }
        if let Some(resp) = &f.response {
            let mut lines = resp.lines();
            if let Some(first) = lines.next() {
                self.out(format!("{pad}{} {first}", dim("response:")));
            }
            for line in lines.take(12) {
                self.out(format!("{pad}          {line}"));
            }
        }
    }

    fn summary(&self, report: &Report, report_path: &str) {
        if let Some(pb) = &self.spinner {
            pb.finish_and_clear();
        }
        println!();
        match report.status {
            RunStatus::Graded => {}
            RunStatus::BuildFailed => println!(
                "{} {}",
                self.paint("1;31", "The submission did not build:"),
                report.reason.as_deref().unwrap_or("")
            ),
            RunStatus::StartFailed => println!(
                "{} {}",
                self.paint("1;31", "The submission did not start:"),
                report.reason.as_deref().unwrap_or("")
            ),
            RunStatus::Error => println!(
                "{} {}",
                self.paint("1;35", "The grader failed:"),
                report.reason.as_deref().unwrap_or("")
            ),
        }
        let tail =
            report
                .build_log_tail
                .as_deref()
                .or(if report.status == RunStatus::StartFailed {
                    report.log_tail.as_deref()
                } else {
                    None
                });
        if let Some(tail) = tail.filter(|t| !t.trim().is_empty()) {
            println!("{}", self.paint("2", "--- last lines of the log ---"));
            let lines: Vec<&str> = tail.lines().collect();
            for line in &lines[lines.len().saturating_sub(20)..] {
                println!("  {line}");
            }
            println!("{}", self.paint("2", "---"));
        }
        if let Some(exit) = &report.submission_exit
            && report.status == RunStatus::Graded
        {
            println!(
                "{} {exit}",
                self.paint("1;33", "The submission stopped during the run:")
            );
        }
        let verdict = if report.passed {
            self.paint("1;32", "PASSED")
        } else {
            self.paint("1;31", "NOT PASSED")
        };
        println!(
            "Score: {}/{} ({:.1}%), pass mark {}% — {verdict}",
            pts(report.score),
            pts(report.max_score),
            report.percent(),
            report.pass_mark
        );
        println!(
            "Seed: {} (replay the same data with --seed {})",
            report.seed, report.seed
        );
        println!("Report: {report_path}");
    }
}

/// A class on a terminal (or a pipe): a line per learner as each finishes, so the runs
/// that go on side by side do not interleave.
pub(crate) struct ClassProgress;

impl Reporter for ClassProgress {
    fn report(&self, event: &RunEvent<'_>) {
        match event {
            RunEvent::BatchStarted {
                learners,
                jobs,
                out,
            } => println!(
                "==> grading {learners} learners, {jobs} at a time, into {}",
                out.display()
            ),
            RunEvent::Images { line } => println!("==> {line}"),
            RunEvent::BatchResumed { done, todo } => {
                println!("==> resuming: {done} already graded, {todo} to go");
            }
            RunEvent::ClassDatabaseStarting { run_id } => {
                println!("==> starting the class's PostgreSQL ({run_id})");
            }
            RunEvent::LearnerFinished {
                done,
                total,
                name,
                report,
                took,
            } => println!(
                "[{done}/{total}] {name}: {}/{} ({:.0}%) {} in {:.1}s",
                pts(report.score),
                pts(report.max_score),
                report.percent(),
                verdict(report),
                took.as_secs_f64()
            ),
            RunEvent::BatchFinished { out } => {
                println!("gradebook: {}", out.join("gradebook.csv").display());
                println!("summary:   {}", out.join("summary.html").display());
            }
            RunEvent::ShardMissing { dir } => eprintln!(
                "warning: {} is missing: its learners are not in the gradebook",
                dir.display()
            ),
            _ => {}
        }
    }
}
