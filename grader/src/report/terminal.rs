//! The terminal renderings of a run's events: for one run, progress lines while it
//! works, then each check and the score (colours only on a terminal, never with
//! NO_COLOR); for a class, a line per learner as each finishes.
//!
//! What a submission wrote reaches the terminal only through `shown` (or `block`): its
//! escape sequences and control characters are printed as `\x1b` and the like, and its
//! extra lines are indented, so none can pass for the grader's own lines.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};

use grader_report::{CheckResult, CheckStatus, Failure, Report, RunStatus, SubmissionOutput};

use crate::report::text::{cause_lines, labelled, output_heading, stage_rows, work_text};
use crate::report::{inert, pts, verdict};
use crate::run::{Reporter, RunEvent};

/// The most lines of a check's output the terminal shows (report.json keeps more).
const TERMINAL_OUTPUT_LINES: usize = 15;

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
            }) => {
                // Not even the spinner names a hidden check.
                let name = if check.hidden {
                    crate::report::hidden::TITLE
                } else {
                    &check.id
                };
                self.working(&format!("check {}/{total}: {name}", index + 1));
            }
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
            pb.set_message(shown(text));
        }
    }

    /// A progress line.
    pub(crate) fn step(&self, text: &str) {
        let text = shown(text);
        if let Some(pb) = &self.spinner {
            pb.set_message(text.clone());
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
            shown(&r.id),
            points,
            shown(&title)
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
            for row in stage_rows(l) {
                self.out(format!(
                    "{pad}  {:<10} {:<22} p95 {:>10}  recovery {:<8}  errors {}",
                    shown(&row.name),
                    row.rate,
                    row.p95,
                    row.recovery,
                    shown(&row.errors)
                ));
            }
        }
        for line in work_text(r).lines() {
            self.out(format!("                {}", shown(line)));
        }
        if let Some(f) = &r.failure
            && r.status != CheckStatus::Skipped
        {
            self.failure(r, f);
            self.output(r);
        }
    }

    /// A failed check's known causes, then what the submission printed meanwhile, its
    /// lines behind a `|`.
    fn output(&self, r: &CheckResult) {
        let pad = "                ";
        for line in cause_lines(&r.causes) {
            let line = line.strip_prefix("cause: ").unwrap_or(&line);
            self.out(format!(
                "{pad}{} {}",
                self.paint("1;33", "cause:   "),
                shown(line)
            ));
        }
        if let Some(o) = r.output.as_ref().filter(|o| !o.text.is_empty()) {
            // The last lines only: the files keep the rest.
            let text = inert(&o.text);
            let lines: Vec<&str> = text.lines().collect();
            let shown_from = lines.len().saturating_sub(TERMINAL_OUTPUT_LINES);
            let o = SubmissionOutput {
                text: String::new(),
                omitted: o.omitted + shown_from,
            };
            self.out(format!("{pad}{}", self.paint("2", &output_heading(&o))));
            for line in &lines[shown_from..] {
                self.out(format!("{pad}  {} {line}", self.paint("2", "|")));
            }
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
                shown(&r.title),
                dim(&shown(&format!("step {} at {}", f.step, f.location)))
            ));
        }
        if let Some(d) = &f.diff {
            self.out(format!("{pad}{}", dim("diff:")));
            for line in d.lines().take(40) {
                self.out(format!("{pad}  {}", shown(line)));
            }
        }
        let more = format!("{pad}          ");
        for (label, v) in labelled(f) {
            let label = format!("{label}:");
            let shown_v = block(v, &more, usize::MAX);
            self.out(format!("{pad}{} {shown_v}", dim(&format!("{label:<9}"))));
        }
        if let Some(resp) = &f.response {
            self.out(format!(
                "{pad}{} {}",
                dim("response:"),
                block(resp, &more, 13)
            ));
        }
    }

    fn summary(&self, report: &Report, report_path: &str) {
        if let Some(pb) = &self.spinner {
            pb.finish_and_clear();
        }
        println!();
        let reason = block(report.reason.as_deref().unwrap_or(""), "  ", usize::MAX);
        match report.status {
            RunStatus::Graded => {}
            RunStatus::BuildFailed => println!(
                "{} {reason}",
                self.paint("1;31", "The submission did not build:"),
            ),
            RunStatus::StartFailed => println!(
                "{} {reason}",
                self.paint("1;31", "The submission did not start:"),
            ),
            RunStatus::Error => println!("{} {reason}", self.paint("1;35", "The grader failed:")),
        }
        for line in cause_lines(&report.causes) {
            let line = line.strip_prefix("cause: ").unwrap_or(&line);
            println!("{} {}", self.paint("1;33", "Cause:"), shown(line));
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
                println!("  {}", shown(line));
            }
            println!("{}", self.paint("2", "---"));
        }
        if let Some(exit) = &report.submission_exit
            && report.status == RunStatus::Graded
        {
            println!(
                "{} {}",
                self.paint("1;33", "The submission stopped during the run:"),
                shown(exit)
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
        if report.unchecked_points > 0.0 {
            println!(
                "{} {} points could not be checked against a running server (restarts, \
                 crashes, its database going away, services not given): grade the \
                 submission's folder for the whole grade",
                self.paint("1;33", "Not checked:"),
                pts(report.unchecked_points)
            );
        }
        if let Some(runtime) = &report.runtime {
            println!(
                "{} {} runtime: the server ran as a process of this machine, not in a \
                 container (a Dockerfile's RUN and COPY were not run)",
                self.paint("1;33", "Runtime:"),
                crate::report::text::inert(runtime)
            );
        }
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
                "[{done}/{total}] {}: {}/{} ({:.0}%) {} in {:.1}s",
                shown(name),
                pts(report.score),
                pts(report.max_score),
                report.percent(),
                shown(&verdict(report)),
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

/// Text for one terminal line: control characters shown, line breaks as spaces.
fn shown(text: &str) -> String {
    inert(text).replace('\n', " ")
}

/// Text of several lines, control characters shown: the first `max` lines, every line
/// after the first starting with `indent`, so none begins where the grader's own do.
fn block(text: &str, indent: &str, max: usize) -> String {
    inert(text)
        .lines()
        .take(max)
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn submission_text_is_shown_on_indented_lines() {
        assert_eq!(
            super::shown("a\x1b]0;x\x07\nScore: 41/41"),
            r"a\x1b]0;x\x07 Score: 41/41"
        );
        assert_eq!(
            super::block("HTTP 200\n\x1b[2J\nScore: 41/41\nmore", "    ", 3),
            "HTTP 200\n    \\x1b[2J\n    Score: 41/41"
        );
    }
}
