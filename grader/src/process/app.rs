//! The submission as a process group of its own: started under its account with
//! rlimits (`prlimit` from util-linux sets them and executes the command, so no unsafe
//! code runs between fork and exec), its output kept line by line with the time it
//! came, its memory watched as a cgroup would (over the limit: the whole group is
//! killed), and stopped as Docker stops a container: SIGTERM to the group, SIGKILL
//! after the grace period.

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use harness::exercise::Limits;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use super::account::Account;

/// The most lines kept in memory, and bytes written to submission.log.
const KEEP_LINES: usize = 20_000;
const LOG_BYTES: u64 = 8 * 1024 * 1024;
/// A line longer than this is cut.
const LINE_BYTES: usize = 4096;
/// How often the group's memory is looked at.
const MEMORY_EVERY: Duration = Duration::from_millis(200);

/// What the submission printed, each line with when it came.
#[derive(Debug)]
pub(crate) struct Output {
    lines: Mutex<VecDeque<(SystemTime, String)>>,
    file: Mutex<(std::fs::File, u64)>,
}

impl Output {
    pub(crate) fn new(path: &Path) -> std::io::Result<Output> {
        Ok(Output {
            lines: Mutex::new(VecDeque::new()),
            file: Mutex::new((std::fs::File::create(path)?, 0)),
        })
    }

    fn push(&self, line: String) {
        {
            let mut file = self.file.lock().expect("not poisoned");
            if file.1 < LOG_BYTES {
                file.1 += line.len() as u64 + 1;
                let _ = writeln!(file.0, "{line}");
            }
        }
        let mut lines = self.lines.lock().expect("not poisoned");
        if lines.len() == KEEP_LINES {
            lines.pop_front();
        }
        lines.push_back((SystemTime::now(), line));
    }

    /// The lines printed since `since` (all of them: `None`).
    pub(crate) fn since(&self, since: Option<SystemTime>) -> Vec<String> {
        let lines = self.lines.lock().expect("not poisoned");
        lines
            .iter()
            .filter(|(t, _)| since.is_none_or(|s| *t >= s))
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Reads `stream` line by line into this output until it ends.
    fn follow(self: &Arc<Self>, stream: impl AsyncRead + Unpin + Send + 'static) {
        let out = self.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let end = buf.len().min(LINE_BYTES);
                        let mut line = String::from_utf8_lossy(&buf[..end]).into_owned();
                        if buf.len() > LINE_BYTES {
                            line.push_str("... (line cut)");
                        }
                        out.push(line.trim_end_matches(['\n', '\r']).to_string());
                    }
                }
            }
        });
    }
}

/// What the submission runs as, and under which limits.
#[derive(Debug, Clone)]
pub(crate) struct AppSpec {
    pub argv: Vec<String>,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub account: Option<Account>,
    pub limits: Limits,
    /// CPU seconds over the whole run (RLIMIT_CPU), a backstop to the run's time limit.
    pub cpu_seconds: u64,
}

#[derive(Debug)]
struct Running {
    child: Child,
    pgid: Pid,
    watch: tokio::task::JoinHandle<()>,
}

/// The submission's process group, started again on demand.
#[derive(Debug)]
pub(crate) struct App {
    spec: AppSpec,
    pub(crate) output: Arc<Output>,
    running: tokio::sync::Mutex<Option<Running>>,
    /// How the last process ended, when it ended by itself (or for its memory).
    ended: Mutex<Option<Ended>>,
    over_memory: Arc<AtomicBool>,
    /// CPU time of the processes that have ended, in clock ticks.
    cpu_before: AtomicU64,
    /// The last CPU time seen of the running group, in clock ticks.
    cpu_now: Arc<AtomicU64>,
    peak_memory: Arc<AtomicU64>,
}

/// The processes of a group, as /proc shows them: CPU ticks (user and system, theirs
/// and their reaped children's) and resident bytes.
fn group_usage(pgid: Pid) -> (u64, u64) {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    let (mut ticks, mut rss) = (0u64, 0u64);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return (0, 0);
    };
    for entry in dir.flatten() {
        if !entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command's name may hold spaces and parentheses: the fields follow the last ')'.
        let Some(fields) = stat
            .rsplit_once(')')
            .map(|(_, f)| f.split_whitespace().collect::<Vec<_>>())
        else {
            continue;
        };
        let num = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        if fields.get(2).and_then(|f| f.parse::<i32>().ok()) != Some(pgid.as_raw()) {
            continue;
        }
        ticks += num(11) + num(12) + num(13) + num(14);
        rss += num(21) * page;
    }
    (ticks, rss)
}

fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64
}

impl App {
    pub(crate) fn new(spec: AppSpec, output: Arc<Output>) -> App {
        App {
            spec,
            output,
            running: tokio::sync::Mutex::new(None),
            ended: Mutex::new(None),
            over_memory: Arc::new(AtomicBool::new(false)),
            cpu_before: AtomicU64::new(0),
            cpu_now: Arc::new(AtomicU64::new(0)),
            peak_memory: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sets the environment of the next start.
    pub(crate) fn set_env(&mut self, env: Vec<(String, String)>) {
        self.spec.env = env;
    }

    pub(crate) fn spec(&self) -> &AppSpec {
        &self.spec
    }

    /// The command line that starts it: `prlimit` with the limits, then its own.
    fn command(&self) -> Command {
        let s = &self.spec;
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={0}:{0}", s.limits.nofile))
            .arg("--core=0:0")
            .arg(format!("--cpu={0}:{0}", s.cpu_seconds));
        // Processes are counted per user: only an account of its own can be held to them.
        if s.account.is_some() {
            cmd.arg(format!("--nproc={0}:{0}", s.limits.pids));
        }
        cmd.arg("--").args(&s.argv);
        let home = s.dir.to_string_lossy().into_owned();
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("HOME", &home)
            .env("TMPDIR", s.dir.join(".tmp"))
            .env("LANG", "C.UTF-8")
            .envs(s.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&s.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(a) = s.account {
            cmd.uid(a.uid).gid(a.gid);
        }
        cmd
    }

    /// Starts it (it must not be running).
    pub(crate) async fn start(&self) -> Result<(), String> {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Ok(());
        }
        let _ = std::fs::create_dir_all(self.spec.dir.join(".tmp"));
        let _ = super::account::give(&self.spec.dir.join(".tmp"), self.spec.account.as_ref());
        let mut child = self
            .command()
            .spawn()
            .map_err(|e| format!("starting `{}`: {e}", self.spec.argv.join(" ")))?;
        let pid = child.id().ok_or("the submission exited as it started")?;
        let pgid = Pid::from_raw(pid as i32);
        if let Some(out) = child.stdout.take() {
            self.output.follow(out);
        }
        if let Some(err) = child.stderr.take() {
            self.output.follow(err);
        }
        *self.ended.lock().expect("not poisoned") = None;
        self.cpu_now.store(0, Ordering::SeqCst);
        let watch = {
            let limit = u64::try_from(self.spec.limits.memory_bytes).unwrap_or(u64::MAX);
            let (over, cpu, peak) = (
                self.over_memory.clone(),
                self.cpu_now.clone(),
                self.peak_memory.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let (ticks, rss) = group_usage(pgid);
                    cpu.fetch_max(ticks, Ordering::SeqCst);
                    peak.fetch_max(rss, Ordering::SeqCst);
                    if rss > limit {
                        over.store(true, Ordering::SeqCst);
                        let _ = killpg(pgid, Signal::SIGKILL);
                        return;
                    }
                    tokio::time::sleep(MEMORY_EVERY).await;
                }
            })
        };
        *running = Some(Running { child, pgid, watch });
        Ok(())
    }

    /// Notes how the process ended and what it used.
    fn ended_with(&self, run: &Running, status: Option<std::process::ExitStatus>) {
        run.watch.abort();
        let _ = killpg(run.pgid, Signal::SIGKILL);
        // As a container's stop ends all its processes: those that left the group too.
        if let Some(account) = &self.spec.account {
            super::account::end_all(account);
        }
        self.cpu_before
            .fetch_add(self.cpu_now.swap(0, Ordering::SeqCst), Ordering::SeqCst);
        let over_memory = self.over_memory.swap(false, Ordering::SeqCst);
        *self.ended.lock().expect("not poisoned") = status.map(|s| Ended {
            how: if over_memory {
                format!(
                    "was killed: it used more than its {} MiB of memory",
                    self.spec.limits.memory_bytes / (1024 * 1024)
                )
            } else {
                describe(&s)
            },
            code: code_of(&s),
            over_memory,
        });
    }

    /// Stops it: SIGTERM to the group, SIGKILL once `grace` has passed. How long it took
    /// and whether it had to be killed; `None` when it was not running.
    pub(crate) async fn stop(&self, grace: Duration) -> Option<(Duration, bool)> {
        let mut guard = self.running.lock().await;
        let mut run = guard.take()?;
        let start = Instant::now();
        if let Ok(Some(status)) = run.child.try_wait() {
            self.ended_with(&run, Some(status));
            return Some((Duration::ZERO, false));
        }
        let _ = killpg(run.pgid, Signal::SIGTERM);
        let (status, killed) = match tokio::time::timeout(grace, run.child.wait()).await {
            Ok(status) => (status.ok(), false),
            Err(_) => {
                let _ = killpg(run.pgid, Signal::SIGKILL);
                (run.child.wait().await.ok(), true)
            }
        };
        let after = start.elapsed();
        self.ended_with(&run, status);
        // Stopped by the grader: not an exit of its own to report.
        *self.ended.lock().expect("not poisoned") = None;
        Some((after, killed))
    }

    /// Kills the group at once (SIGKILL).
    pub(crate) async fn kill(&self) {
        let mut guard = self.running.lock().await;
        if let Some(mut run) = guard.take() {
            let _ = killpg(run.pgid, Signal::SIGKILL);
            let status = run.child.wait().await.ok();
            self.ended_with(&run, status);
            *self.ended.lock().expect("not poisoned") = None;
        }
    }

    /// How it ended, if it ended by itself; None while it runs.
    pub(crate) async fn exited(&self) -> Option<Ended> {
        let mut guard = self.running.lock().await;
        let run = guard.as_mut()?;
        match run.child.try_wait() {
            Ok(Some(status)) => {
                let run = guard.take().expect("just seen");
                self.ended_with(&run, Some(status));
                self.ended.lock().expect("not poisoned").clone()
            }
            _ => None,
        }
    }

    /// Whether a process of it is running.
    pub(crate) async fn is_running(&self) -> bool {
        self.exited().await.is_none() && self.running.lock().await.is_some()
    }

    /// How it last ended by itself, if it did.
    pub(crate) fn last_exit(&self) -> Option<Ended> {
        self.ended.lock().expect("not poisoned").clone()
    }

    /// CPU time used since it first started, in nanoseconds, and resident bytes now.
    pub(crate) async fn usage(&self) -> Option<(u64, u64)> {
        let guard = self.running.lock().await;
        let run = guard.as_ref()?;
        let (ticks, rss) = group_usage(run.pgid);
        self.cpu_now.fetch_max(ticks, Ordering::SeqCst);
        let total = self.cpu_before.load(Ordering::SeqCst) + self.cpu_now.load(Ordering::SeqCst);
        Some((total * 1_000_000_000 / ticks_per_second(), rss))
    }

    /// The most resident memory seen.
    pub(crate) fn peak_memory(&self) -> u64 {
        self.peak_memory.load(Ordering::SeqCst)
    }
}

/// How a process of the submission ended by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ended {
    /// "exited with code 1", "killed by signal SIGSEGV", ...
    pub how: String,
    /// The exit code, 128 + the signal's number for a signal (as a container's).
    pub code: i64,
    pub over_memory: bool,
}

fn code_of(status: &std::process::ExitStatus) -> i64 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => i64::from(code),
        (None, Some(sig)) => 128 + i64::from(sig),
        _ => -1,
    }
}

/// An exit status as a learner reads it.
fn describe(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => match Signal::try_from(sig) {
            Ok(s) => format!("killed by signal {}", s.as_str()),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => status.to_string(),
    }
}
