//! Why the submission failed, from what it shows: its own log lines over a failed check
//! (by the engine's timestamps), its container's state (an exit, a signal, an
//! out-of-memory kill, a crash after a restart), and the sockets it listens on (read
//! from `/proc/net/tcp` by a small container in its network namespace, so it works
//! whatever the submission's image holds).

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptions,
};
use futures_util::StreamExt;
use grader_report::{Cause, SubmissionOutput};
use harness::Diagnosis;

use super::super::causes::{self, Ended};
use super::super::container::{create_and_start, small_logs};
use super::Sandbox;

/// The most lines and bytes of a check's output a report keeps (the last ones).
const OUTPUT_LINES: usize = 40;
const OUTPUT_BYTES: usize = 8 * 1024;
/// The most of the log the grader reads to find them.
const READ_BYTES: usize = 1024 * 1024;
/// A line longer than this is cut (a one-line JSON dump can be megabytes).
const LINE_CHARS: usize = 1000;
/// How long the engine may take to log a line the server printed.
const LOG_SETTLE: Duration = Duration::from_millis(150);
/// The whole diagnosis of one failure, at most.
const DIAGNOSIS_TIME: Duration = Duration::from_secs(15);

/// The last lines that fit the caps, and how many earlier ones did not.
pub(crate) fn output_of(lines: &[String]) -> Option<SubmissionOutput> {
    if lines.is_empty() {
        return None;
    }
    let mut kept: Vec<String> = Vec::new();
    let mut bytes = 0;
    for line in lines.iter().rev().take(OUTPUT_LINES) {
        let line = match line.char_indices().nth(LINE_CHARS) {
            Some((i, _)) => format!("{}... (line cut)", &line[..i]),
            None => line.clone(),
        };
        if bytes + line.len() + 1 > OUTPUT_BYTES && !kept.is_empty() {
            break;
        }
        bytes += line.len() + 1;
        kept.push(line);
    }
    kept.reverse();
    Some(SubmissionOutput {
        omitted: lines.len() - kept.len(),
        text: kept.join("\n"),
    })
}

/// Adds the causes of `more` whose kind is not there yet.
pub(crate) fn merge(causes: &mut Vec<Cause>, more: Vec<Cause>) {
    for c in more {
        if !causes.iter().any(|k| k.kind == c.kind) {
            causes.push(c);
        }
    }
}

impl Sandbox {
    /// A failed check's diagnosis: the lines printed since `since`, and the causes.
    pub(super) async fn diagnosis(&self, since: SystemTime) -> Diagnosis {
        let work = async {
            // The engine writes a line to the log a moment after the server printed it.
            tokio::time::sleep(LOG_SETTLE).await;
            let lines = self.lines(Some(since)).await;
            let mut found = causes::from_log(lines.iter().map(String::as_str), &self.rules);
            let listening = self.listen_cause.lock().expect("not poisoned").take();
            merge(&mut found, listening.into_iter().collect());
            merge(&mut found, self.exit_causes().await);
            Diagnosis {
                output: output_of(&lines),
                causes: found,
            }
        };
        tokio::time::timeout(DIAGNOSIS_TIME, work)
            .await
            .unwrap_or_default()
    }

    /// Why the submission did not start: the causes in the end of its log, its state
    /// and the sockets it listens on.
    pub async fn start_causes(&self) -> Vec<Cause> {
        let work = async {
            let lines = self.lines(None).await;
            let mut found = causes::from_log(lines.iter().map(String::as_str), &self.rules);
            let listening = self.listen_cause.lock().expect("not poisoned").take();
            merge(&mut found, listening.into_iter().collect());
            merge(&mut found, self.exit_causes().await);
            found
        };
        tokio::time::timeout(DIAGNOSIS_TIME, work)
            .await
            .unwrap_or_default()
    }

    /// The submission's log lines printed since `since` (the engine's timestamps), or
    /// its last few hundred lines; read up to `READ_BYTES`.
    async fn lines(&self, since: Option<SystemTime>) -> Vec<String> {
        let mut options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true);
        options = match since {
            Some(t) => {
                let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
                options.since(i32::try_from(secs.as_secs()).unwrap_or(i32::MAX))
            }
            None => options.tail("300"),
        };
        let mut stream = self.docker.logs(&self.app, Some(options.build()));
        let mut lines = Vec::new();
        let mut read = 0;
        let work = async {
            while let Some(Ok(chunk)) = stream.next().await {
                let bytes = chunk.into_bytes();
                read += bytes.len();
                let text = String::from_utf8_lossy(&bytes);
                for entry in text.lines() {
                    let (stamp, line) = entry.split_once(' ').unwrap_or((entry, ""));
                    let at = chrono::DateTime::parse_from_rfc3339(stamp)
                        .map(SystemTime::from)
                        .ok();
                    if since.is_some_and(|s| at.is_some_and(|at| at < s)) {
                        continue;
                    }
                    lines.push(line.to_string());
                }
                if read > READ_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), work).await;
        lines
    }

    /// What the container's state shows, if it is not running.
    async fn exit_causes(&self) -> Vec<Cause> {
        let Ok(info) = self.docker.inspect_container(&self.app, None).await else {
            return Vec::new();
        };
        let Some(state) = info.state.filter(|s| s.running != Some(true)) else {
            return Vec::new();
        };
        let ended = Ended {
            code: state.exit_code.unwrap_or(-1),
            oom_killed: state.oom_killed == Some(true),
            after_restart: self.starts.load(Ordering::SeqCst) > 1
                && !self.ready.load(Ordering::SeqCst),
        };
        causes::from_exit(ended, &self.rules)
    }

    /// What the sockets the submission listens on say about why the grader cannot
    /// reach it (loopback only, another port); remembered for the report.
    pub(super) async fn socket_cause(&self) -> Option<Cause> {
        let text = tokio::time::timeout(Duration::from_secs(15), self.proc_net_tcp())
            .await
            .ok()
            .flatten()?;
        let sockets: Vec<(IpAddr, u16)> = causes::listening_sockets(&text);
        let cause = causes::from_sockets(&sockets, self.opts.port)?;
        *self.listen_cause.lock().expect("not poisoned") = Some(cause.clone());
        Some(cause)
    }

    /// `/proc/net/tcp` and `tcp6` of the submission's network namespace, read by a
    /// container that joins it (the forwarder's image: it has `cat`).
    async fn proc_net_tcp(&self) -> Option<String> {
        let name = format!("{}-sockets", self.app);
        let body = ContainerCreateBody {
            image: Some(self.opts.images.socat.clone()),
            entrypoint: Some(vec!["cat".into()]),
            cmd: Some(vec!["/proc/net/tcp".into(), "/proc/net/tcp6".into()]),
            labels: Some(self.labels("sockets")),
            host_config: Some(HostConfig {
                network_mode: Some(format!("container:{}", self.app)),
                memory: Some(32 * 1024 * 1024),
                memory_swap: Some(32 * 1024 * 1024),
                nano_cpus: Some(250_000_000),
                pids_limit: Some(4),
                readonly_rootfs: Some(true),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges:true".into()]),
                log_config: Some(small_logs()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let started = create_and_start(&self.docker, &name, body).await;
        let mut text = None;
        if started.is_ok() {
            // `cat` exits non-zero without IPv6: what it printed counts all the same.
            let _ = self
                .docker
                .wait_container(&name, None::<WaitContainerOptions>)
                .next()
                .await;
            let options = LogsOptionsBuilder::new().stdout(true).build();
            let mut out = Vec::new();
            let mut logs = self.docker.logs(&name, Some(options));
            while let Some(Ok(chunk)) = logs.next().await {
                out.extend_from_slice(&chunk.into_bytes());
            }
            text = Some(String::from_utf8_lossy(&out).into_owned());
        }
        let remove = RemoveContainerOptionsBuilder::new().force(true).build();
        let _ = self.docker.remove_container(&name, Some(remove)).await;
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_the_last_lines_within_the_caps() {
        let lines: Vec<String> = (1..=100).map(|i| format!("line {i}")).collect();
        let out = output_of(&lines).expect("output");
        assert_eq!(out.omitted, 60);
        assert!(out.text.starts_with("line 61\n") && out.text.ends_with("line 100"));
        let long = vec!["x".repeat(5000); 20];
        let out = output_of(&long).expect("output");
        assert!(out.text.len() <= OUTPUT_BYTES, "{}", out.text.len());
        assert!(out.text.ends_with("... (line cut)"));
        assert_eq!(output_of(&[]), None);
    }
}
