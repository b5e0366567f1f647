//! What the submission used and said: memory and CPU peaks sampled in the background,
//! and the end of its output.

use std::time::Duration;

use bollard::query_parameters::{LogsOptionsBuilder, StatsOptionsBuilder};
use futures_util::StreamExt;

use super::Sandbox;

/// The most log bytes the grader keeps from the submission.
pub const MAX_LOG_BYTES: usize = 64 * 1024;

/// Peaks of the submission's resource use, updated by a background task.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Peaks {
    memory: u64,
    cpu_percent: f64,
}

impl Peaks {
    /// Counts one stats sample; `last` carries the previous CPU total and its time.
    fn sample(
        &mut self,
        s: &bollard::models::ContainerStatsResponse,
        last: &mut Option<(u64, std::time::Instant)>,
    ) {
        if let Some(m) = &s.memory_stats {
            let cache = m.stats.as_ref().and_then(|st| {
                st.get("inactive_file")
                    .or_else(|| st.get("total_inactive_file"))
                    .copied()
            });
            let used = m.usage.unwrap_or(0).saturating_sub(cache.unwrap_or(0));
            self.memory = self.memory.max(used);
        }
        // CPU: our own deltas of the container's CPU time over wall time
        // (100 = one core), so the first samples count too.
        let total = s
            .cpu_stats
            .as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage);
        if let Some(total) = total {
            let now = std::time::Instant::now();
            if let Some((t0, at)) = *last
                && total >= t0
            {
                let wall = now.duration_since(at).as_nanos() as f64;
                if wall > 2e8 {
                    self.cpu_percent = self.cpu_percent.max((total - t0) as f64 / wall * 100.0);
                }
            }
            *last = Some((total, now));
        }
    }
}

impl Sandbox {
    /// Samples the submission's memory and CPU until `resources` is called, across
    /// restarts (each ends the engine's stats stream).
    pub(super) fn follow_stats(&self) {
        let docker = self.docker.clone();
        let app = self.app.clone();
        let peaks = self.peaks.clone();
        let stop = self.stats_stop.clone();
        tokio::spawn(async move {
            let mut last: Option<(u64, std::time::Instant)> = None;
            while !stop.is_cancelled() {
                let options = StatsOptionsBuilder::new().stream(true).build();
                let mut stream = docker.stats(&app, Some(options));
                loop {
                    let item = tokio::select! {
                        item = stream.next() => item,
                        () = stop.cancelled() => return,
                    };
                    let Some(Ok(s)) = item else { break };
                    peaks.lock().expect("not poisoned").sample(&s, &mut last);
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    () = stop.cancelled() => return,
                }
            }
        });
    }

    /// Stops sampling and returns the peaks seen.
    pub fn resources(&self) -> harness::Resources {
        self.stats_stop.cancel();
        let p = *self.peaks.lock().expect("not poisoned");
        harness::Resources {
            peak_memory_bytes: p.memory,
            memory_limit_bytes: self.opts.limits.memory_bytes.max(0) as u64,
            peak_cpu_percent: (p.cpu_percent * 10.0).round() / 10.0,
            cpu_limit: self.opts.limits.cpus,
        }
    }

    /// The submission's CPU time and resident memory now, from one stats sample of its
    /// container (its cgroup): for the work counters' `cpu` and `memory_growth`.
    pub(super) async fn usage_now(&self) -> Option<harness::Usage> {
        let options = StatsOptionsBuilder::new()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = self.docker.stats(&self.app, Some(options));
        let sample = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .ok()??
            .ok()?;
        usage_of(&sample)
    }

    /// The end of the submission's output (stdout and stderr), at most `MAX_LOG_BYTES`.
    pub async fn logs(&self) -> String {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail("200")
            .build();
        let mut stream = self.docker.logs(&self.app, Some(options));
        let mut out: Vec<u8> = Vec::new();
        let work = async {
            while let Some(Ok(chunk)) = stream.next().await {
                out.extend_from_slice(&chunk.into_bytes());
                if out.len() > 4 * MAX_LOG_BYTES {
                    let cut = out.len() - MAX_LOG_BYTES;
                    out.drain(..cut);
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), work).await;
        let start = out.len().saturating_sub(MAX_LOG_BYTES);
        String::from_utf8_lossy(&out[start..]).into_owned()
    }
}

/// CPU time (ns) and resident memory from a stats sample: `total_rss` (or `rss`) on
/// cgroup v1, `anon` on v2. The page cache is not the submission's growth.
fn usage_of(s: &bollard::models::ContainerStatsResponse) -> Option<harness::Usage> {
    let cpu_ns = s.cpu_stats.as_ref()?.cpu_usage.as_ref()?.total_usage?;
    let stats = s.memory_stats.as_ref()?.stats.as_ref()?;
    let memory_bytes = ["total_rss", "rss", "anon"]
        .iter()
        .find_map(|k| stats.get(*k).copied())?;
    Some(harness::Usage {
        cpu_ns,
        memory_bytes,
    })
}

#[cfg(test)]
mod tests {
    use bollard::models::{ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats};

    use super::*;

    fn sample(stats: &[(&str, u64)]) -> bollard::models::ContainerStatsResponse {
        bollard::models::ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(1_500),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                stats: Some(stats.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn usage_reads_rss_on_v1_and_anon_on_v2() {
        let v1 = usage_of(&sample(&[("total_rss", 10), ("rss", 9), ("cache", 99)])).unwrap();
        assert_eq!((v1.cpu_ns, v1.memory_bytes), (1_500, 10));
        let v2 = usage_of(&sample(&[("anon", 7), ("file", 99)])).unwrap();
        assert_eq!(v2.memory_bytes, 7);
        assert_eq!(usage_of(&sample(&[("file", 99)])), None);
    }
}
