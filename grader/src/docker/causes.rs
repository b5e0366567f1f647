//! Known causes, recognised in what a submission printed (its log, its build log) and in
//! its container's state, each named in one plain sentence with the sandbox rule it hit.
//! Pure functions of text and numbers: the sandbox gathers the evidence, this names it.

use std::net::IpAddr;

use grader_report::{Cause, CauseKind};

use super::rules::SandboxRules;

/// The longest piece of evidence a cause keeps (a log line can be endless).
const EVIDENCE_CHARS: usize = 300;

fn evidence(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(EVIDENCE_CHARS) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

/// Adds `cause` unless one of its kind is there already (the first evidence wins).
fn push(causes: &mut Vec<Cause>, cause: Cause) {
    if !causes.iter().any(|c| c.kind == cause.kind) {
        causes.push(cause);
    }
}

/// The first absolute path on `line` (quotes, brackets and a trailing `:` or `,` cut).
fn path_in(line: &str) -> Option<String> {
    line.split(|c: char| c.is_whitespace() || "'\"()[]`".contains(c))
        .map(|t| t.trim_end_matches([':', ',', ';', '.']))
        .find(|t| t.starts_with('/') && t.len() > 1 && !t.starts_with("//"))
        .map(str::to_string)
}

/// Causes in the submission's own output, one of each kind.
pub(crate) fn from_log<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    rules: &SandboxRules,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    for line in lines {
        if let Some(c) = log_line(line, rules) {
            push(&mut causes, c.with_evidence(evidence(line)));
        }
    }
    causes
}

fn log_line(line: &str, rules: &SandboxRules) -> Option<Cause> {
    let lower = line.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&["read-only file system", "erofs"]) {
        let what = match path_in(line) {
            Some(p) => format!("the server tried to write `{p}`"),
            None => "the server tried to write outside `/tmp`".to_string(),
        };
        return Some(
            Cause::new(
                CauseKind::ReadOnlyFilesystem,
                format!(
                    "{what}, but only /tmp is writable while graded: keep data in the database"
                ),
            )
            .with_rule(rules.files()),
        );
    }
    if has(&[
        "memoryerror",
        "heap out of memory",
        "runtime: out of memory",
        "cannot allocate memory",
        "failed to allocate memory",
        "outofmemoryerror",
    ]) {
        return Some(
            Cause::new(
                CauseKind::OutOfMemory,
                "the server ran out of memory: keep less in memory (stream, page, use the database)",
            )
            .with_rule(rules.memory()),
        );
    }
    database_refusal(&lower, rules)
}

/// The drivers' words for a refusal by PostgreSQL (they pass the server's message on).
fn database_refusal(lower: &str, rules: &SandboxRules) -> Option<Cause> {
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    let missing_role = lower.contains("role \"") && lower.contains("does not exist");
    let message = if missing_role || has(&["password authentication failed", "no pg_hba.conf"]) {
        "the database refused the server's login: connect with the user, password and database in $DATABASE_URL (or PGUSER, PGPASSWORD, PGDATABASE), which change from run to run".to_string()
    } else if has(&[
        "too many connections for role",
        "remaining connection slots are reserved",
        "sorry, too many clients",
    ]) {
        format!(
            "the database refused a connection: the server's role may hold at most {} at once; use one pool of fewer connections and give them back",
            rules.connections()
        )
    } else if has(&[
        "permission denied for ",
        "permission denied to ",
        "must be owner of ",
        "must be superuser",
    ]) {
        "the database refused a statement the server's role has no right to: it owns its own database, and nothing more (no superuser, no CREATE DATABASE or ROLE, no server files)".to_string()
    } else if has(&["database \""]) && lower.contains("does not exist") {
        "the database the server asked for does not exist: take its name from $DATABASE_URL (or PGDATABASE)".to_string()
    } else {
        return None;
    };
    Some(Cause::new(CauseKind::DatabaseRefused, message).with_rule(rules.database()))
}

/// A signal's name for an exit code above 128 (`137` is `SIGKILL`).
fn signal_name(code: i64) -> Option<&'static str> {
    Some(match code - 128 {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// How the submission's container ended, as the engine saw it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ended {
    pub code: i64,
    pub oom_killed: bool,
    /// It had been started again (a restart or crash step) and ended before it was ready.
    pub after_restart: bool,
}

/// The causes a stopped container shows: out of memory, a crash loop, or an exit.
pub(crate) fn from_exit(ended: Ended, rules: &SandboxRules) -> Vec<Cause> {
    let Ended {
        code,
        oom_killed,
        after_restart,
    } = ended;
    let how = match signal_name(code) {
        Some(sig) => format!("was killed by {sig} (exit code {code})"),
        None => format!("exited with code {code}"),
    };
    let state = format!("exit code {code}, OOMKilled {oom_killed}");
    let mut causes = Vec::new();
    if oom_killed || code == 137 {
        let sure = if oom_killed { "" } else { "probably " };
        causes.push(
            Cause::new(
                CauseKind::OutOfMemory,
                format!(
                    "the server was {sure}killed for going over its memory limit: keep less in memory (stream, page, use the database)"
                ),
            )
            .with_rule(rules.memory())
            .with_evidence(state.clone()),
        );
    }
    let cause = if after_restart {
        Cause::new(
            CauseKind::CrashLoop,
            format!(
                "the server {how} after it was restarted, before it answered its health check: it must start again on the data it left (e.g. CREATE TABLE IF NOT EXISTS)"
            ),
        )
    } else {
        Cause::new(
            CauseKind::Exited,
            format!(
                "the server {how}: its last lines say why; a server must keep running until it is stopped"
            ),
        )
    };
    causes.push(cause.with_evidence(state));
    causes
}

/// Listening TCP sockets in `/proc/net/tcp` and `/proc/net/tcp6` text: address, port.
pub(crate) fn listening_sockets(proc_net_tcp: &str) -> Vec<(IpAddr, u16)> {
    let mut out = Vec::new();
    for line in proc_net_tcp.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local_address rem_address st ...; 0A is LISTEN.
        let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
            continue;
        };
        if *state != "0A" {
            continue;
        }
        let Some((addr, port)) = local.split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(port, 16) else {
            continue;
        };
        if let Some(ip) = proc_address(addr) {
            out.push((ip, port));
        }
    }
    out
}

/// An address as /proc prints it: 32-bit words in the host's byte order (little
/// endian on the machines Docker runs on).
fn proc_address(hex: &str) -> Option<IpAddr> {
    let words: Option<Vec<[u8; 4]>> = (0..hex.len() / 8)
        .map(|i| {
            u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16)
                .ok()
                .map(u32::to_le_bytes)
        })
        .collect();
    let bytes: Vec<u8> = words?.concat();
    match bytes.len() {
        4 => Some(IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]])),
        16 => {
            let a: [u8; 16] = bytes.try_into().ok()?;
            let ip = std::net::Ipv6Addr::from(a);
            Some(match ip.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(ip),
            })
        }
        _ => None,
    }
}

/// Docker's embedded DNS listens inside every container on a user network.
fn is_dockers_dns(ip: &IpAddr) -> bool {
    *ip == IpAddr::from([127, 0, 0, 11])
}

/// What the listening sockets say about a server the grader cannot reach on `port`:
/// bound to loopback only, or to other ports. None when they explain nothing.
pub(crate) fn from_sockets(sockets: &[(IpAddr, u16)], port: u16) -> Option<Cause> {
    let theirs: Vec<&(IpAddr, u16)> = sockets
        .iter()
        .filter(|(ip, _)| !is_dockers_dns(ip))
        .collect();
    let on_port: Vec<&IpAddr> = theirs
        .iter()
        .filter(|(_, p)| *p == port)
        .map(|(ip, _)| ip)
        .collect();
    let rule = SandboxRules::listening(port);
    if !on_port.is_empty() {
        if on_port.iter().all(|ip| ip.is_loopback()) {
            let addr = on_port[0];
            return Some(
                Cause::new(
                    CauseKind::ListensOnLoopback,
                    format!(
                        "the server listens on {addr}:{port}, which only its own container can reach: listen on 0.0.0.0:{port}"
                    ),
                )
                .with_rule(rule)
                .with_evidence(format!("listening: {}", sockets_text(&theirs))),
            );
        }
        return None;
    }
    if theirs.is_empty() {
        return None;
    }
    let mut ports: Vec<u16> = theirs.iter().map(|(_, p)| *p).collect();
    ports.sort_unstable();
    ports.dedup();
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    Some(
        Cause::new(
            CauseKind::WrongPort,
            format!(
                "the server listens on port {} but not on {port}, the port in $PORT: read the port from $PORT",
                ports.join(", ")
            ),
        )
        .with_rule(rule)
        .with_evidence(format!("listening: {}", sockets_text(&theirs))),
    )
}

fn sockets_text(sockets: &[&(IpAddr, u16)]) -> String {
    sockets
        .iter()
        .map(|(ip, p)| match ip {
            IpAddr::V6(v6) => format!("[{v6}]:{p}"),
            IpAddr::V4(v4) => format!("{v4}:{p}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A build log without its colours: SGR sequences (`ESC [ ... m`) removed. Any other
/// escape stays, for `inert` to show.
pub(crate) fn strip_sgr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let params = after
            .find(|c: char| !c.is_ascii_digit() && c != ';')
            .unwrap_or(after.len());
        if after[params..].starts_with('m') {
            rest = &after[params + 1..];
        } else {
            out.push_str("\x1b[");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Which registry a build step or error line is about, by the tool's words.
fn registry_of(text: &str) -> Option<&'static str> {
    let t = text.to_ascii_lowercase();
    let names = [
        (
            &["npm", "yarn", "pnpm", "registry.npmjs"][..],
            "the npm registry",
        ),
        (&["pip", "pypi", "pythonhosted", "poetry"][..], "PyPI (pip)"),
        (
            &[
                "proxy.golang",
                "sum.golang",
                "go mod",
                "go get",
                "go build",
                "go: ",
            ][..],
            "the Go module proxy",
        ),
        (&["rubygems", "bundle", "gem "][..], "RubyGems"),
        (&["composer", "packagist"][..], "Packagist (composer)"),
    ];
    names
        .iter()
        .find(|(words, _)| words.iter().any(|w| t.contains(w)))
        .map(|(_, name)| *name)
}

const UNREACHABLE: &[&str] = &[
    "temporary failure in name resolution",
    "getaddrinfo enotfound",
    "getaddrinfo eai_again",
    "could not resolve host",
    "name or service not known",
    "failed to establish a new connection",
    "network is unreachable",
    "enetunreach",
    "dial tcp: lookup",
    "npm err! network",
    "npm error network",
    "could not fetch url",
    "socketerror",
    "no such host",
    "php_network_getaddresses",
    "connection timed out",
    // An intercepting proxy instead of the registry: nothing to install from either.
    "certificate verify failed",
    "self_signed_cert_in_chain",
    "unable to get local issuer certificate",
];

const BASE_IMAGE: &[&str] = &[
    "pull access denied",
    "manifest unknown",
    "repository does not exist",
    "registry-1.docker.io",
    "failed to resolve source metadata",
    "failed to solve with frontend",
];

/// The package a "not found" line names, with the words that precede it.
fn missing_package(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let after = |marker: &str| {
        let i = lower.find(marker)? + marker.len();
        let name: String = line[i..]
            .trim_start()
            .trim_start_matches(['\'', '"'])
            .chars()
            .take_while(|c| !c.is_whitespace() && !"'\"".contains(*c))
            .collect();
        (!name.is_empty()).then_some(name)
    };
    after("no matching distribution found for")
        .or_else(|| after("unable to locate package"))
        .or_else(|| after("cannot find module providing package"))
        .or_else(|| after("no required module provides package"))
        .or_else(|| after("could not find gem"))
        .or_else(|| {
            (lower.contains("404") && lower.contains("registry.npmjs.org/"))
                .then(|| after("registry.npmjs.org/"))
                .flatten()
        })
        .or_else(|| lower.contains("is not in this registry").then(String::new))
        .map(|n| n.trim_end_matches([',', ':', '.']).to_string())
}

/// Reads a build log line by line, remembering the step each line belongs to.
#[derive(Debug, Default)]
pub(crate) struct BuildScan {
    /// The base image of the last `FROM` step.
    image: Option<String>,
    /// The command of the current step.
    step: String,
    causes: Vec<Cause>,
}

impl BuildScan {
    pub(crate) fn line(&mut self, line: &str) {
        let lower = line.to_ascii_lowercase();
        // The legacy builder's `Step 2/5 : RUN npm install`.
        if let Some((_, cmd)) = line.split_once(" : ").filter(|_| line.starts_with("Step ")) {
            self.step = cmd.trim().to_string();
            if let Some(from) = self.step.strip_prefix("FROM ") {
                self.image = from.split_whitespace().next().map(str::to_string);
            }
        }
        let causes = &mut self.causes;
        if BASE_IMAGE.iter().any(|n| lower.contains(n)) {
            let name = self.image.as_deref().unwrap_or("of the Dockerfile");
            push(
                causes,
                Cause::new(
                    CauseKind::UnknownBaseImage,
                    format!(
                        "the base image {name} is not on the grading machine and cannot be pulled: build FROM debian:bookworm-slim, which is always there, and install the runtime with apt-get"
                    ),
                )
                .with_evidence(evidence(line)),
            );
        } else if UNREACHABLE.iter().any(|n| lower.contains(n)) {
            let registry = registry_of(line)
                .or_else(|| registry_of(&self.step))
                .unwrap_or("a package registry");
            push(
                causes,
                Cause::new(
                    CauseKind::RegistryUnreachable,
                    format!(
                        "the build could not reach {registry}: where it is graded there may be no network. Install from Debian's packages (apt-get), or vendor the dependencies into the folder"
                    ),
                )
                .with_rule(SandboxRules::build())
                .with_evidence(evidence(line)),
            );
        } else if let Some(name) = missing_package(line) {
            let what = if name.is_empty() {
                "a package".to_string()
            } else {
                format!("the package `{name}`")
            };
            push(
                causes,
                Cause::new(
                    CauseKind::MissingPackage,
                    format!(
                        "the build asked for {what}, which was not found: check its name and version"
                    ),
                )
                .with_evidence(evidence(line)),
            );
        }
    }

    pub(crate) fn causes(mut self) -> Vec<Cause> {
        // Without a network pip says "no matching distribution" too: that is no typo.
        if (self.causes.iter()).any(|c| c.kind == CauseKind::RegistryUnreachable) {
            self.causes.retain(|c| c.kind != CauseKind::MissingPackage);
        }
        self.causes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Causes in a failed build's log: a base image that is not there, a registry that
    /// cannot be reached, a package that does not exist.
    fn from_build_log(log: &str) -> Vec<Cause> {
        let mut scan = BuildScan::default();
        for line in log.lines() {
            scan.line(line);
        }
        scan.causes()
    }

    fn rules() -> SandboxRules {
        SandboxRules::new(Default::default(), true)
    }

    fn kinds(causes: &[Cause]) -> Vec<CauseKind> {
        causes.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn a_write_to_the_read_only_root_is_named_with_its_path() {
        let lines = [
            "127.0.0.1 - - \"POST /todos HTTP/1.1\" 500 -",
            "OSError: [Errno 30] Read-only file system: '/app/todos.json.tmp'",
        ];
        let causes = from_log(lines, &rules());
        assert_eq!(kinds(&causes), [CauseKind::ReadOnlyFilesystem]);
        assert!(
            causes[0].message.contains("`/app/todos.json.tmp`"),
            "{:?}",
            causes[0]
        );
        assert!(
            causes[0]
                .message
                .contains("only /tmp is writable while graded")
        );
        assert!(causes[0].rule.as_deref().unwrap_or("").contains("64 MiB"));
        for (line, path) in [
            (
                "Error: EROFS: read-only file system, open '/app/data.json'",
                "/app/data.json",
            ),
            ("open /srv/db.json: read-only file system", "/srv/db.json"),
            (
                "Read-only file system @ rb_sysopen - /app/tmp/x.pid (Errno::EROFS)",
                "/app/tmp/x.pid",
            ),
            (
                "fopen(/var/www/sess): Failed to open stream: Read-only file system",
                "/var/www/sess",
            ),
        ] {
            let c = from_log([line], &rules());
            assert!(c[0].message.contains(&format!("`{path}`")), "{line}: {c:?}");
        }
    }

    #[test]
    fn the_database_refusing_the_role_is_named() {
        for line in [
            "psycopg2.OperationalError: FATAL:  password authentication failed for user \"postgres\"",
            "error: too many connections for role \"grader\"",
            "ERROR:  permission denied to create database",
            "pq: must be superuser to COPY to or from a file",
        ] {
            assert_eq!(
                kinds(&from_log([line], &rules())),
                [CauseKind::DatabaseRefused],
                "{line}"
            );
        }
        let c = from_log(
            ["FATAL: too many connections for role \"grader\""],
            &rules(),
        );
        assert!(c[0].message.contains("at most 32"), "{c:?}");
        // A file the process may not open is not the database's refusal.
        assert!(
            from_log(
                ["PermissionError: [Errno 13] Permission denied: '/x'"],
                &rules()
            )
            .is_empty()
        );
        assert!(from_log(["GET /todos 200"], &rules()).is_empty());
    }

    #[test]
    fn exits_name_the_signal_memory_and_a_crash_loop() {
        let ended = |code, oom, after_restart| Ended {
            code,
            oom_killed: oom,
            after_restart,
        };
        let c = from_exit(ended(3, false, false), &rules());
        assert_eq!(kinds(&c), [CauseKind::Exited]);
        assert!(c[0].message.contains("exited with code 3"));
        let c = from_exit(ended(139, false, false), &rules());
        assert!(
            c[0].message.contains("killed by SIGSEGV (exit code 139)"),
            "{c:?}"
        );
        let c = from_exit(ended(137, true, false), &rules());
        assert_eq!(kinds(&c), [CauseKind::OutOfMemory, CauseKind::Exited]);
        assert!(c[0].rule.as_deref().unwrap_or("").contains("512 MiB"));
        let c = from_exit(ended(1, false, true), &rules());
        assert_eq!(kinds(&c), [CauseKind::CrashLoop]);
    }

    #[test]
    fn listening_sockets_are_read_from_proc() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n   1: 0B00007F:A1B2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n   2: 0100007F:1F90 0100007F:D000 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n";
        let tcp6 = "   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 0\n   1: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A 0\n";
        let s = listening_sockets(&format!("{tcp}{tcp6}"));
        assert_eq!(
            s,
            [
                (IpAddr::from([127, 0, 0, 1]), 8080),
                (IpAddr::from([127, 0, 0, 11]), 0xA1B2),
                ("::1".parse().unwrap_or(IpAddr::from([0; 4])), 8081),
                (IpAddr::from([127, 0, 0, 1]), 80),
            ]
        );
        let c = from_sockets(&s[..1], 8080).expect("a cause");
        assert_eq!(c.kind, CauseKind::ListensOnLoopback);
        assert!(c.message.contains("127.0.0.1:8080") && c.message.contains("0.0.0.0:8080"));
        let c = from_sockets(&[(IpAddr::from([0; 4]), 3000), s[1]], 8080).expect("a cause");
        assert_eq!(c.kind, CauseKind::WrongPort);
        assert!(c.message.contains("port 3000 but not on 8080"), "{c:?}");
        assert!(from_sockets(&[(IpAddr::from([0; 4]), 8080)], 8080).is_none());
        assert!(
            from_sockets(&s[1..2], 8080).is_none(),
            "Docker's DNS is not the server"
        );
    }

    #[test]
    fn build_logs_name_registries_packages_and_base_images() {
        let pip = "Step 5/7 : RUN pip3 install -r requirements.txt\n WARNING: Retrying (Retry(total=4...)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/flask/\nERROR: Could not find a version that satisfies the requirement flask\nERROR: No matching distribution found for flask\n";
        let c = from_build_log(pip);
        assert_eq!(kinds(&c), [CauseKind::RegistryUnreachable]);
        assert!(c[0].message.contains("could not reach PyPI (pip)"), "{c:?}");
        let npm = "Step 4/6 : RUN npm install\nnpm error code ENOTFOUND\nnpm error network request to https://registry.npmjs.org/left-pad failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org\n";
        let c = from_build_log(npm);
        assert!(c[0].message.contains("the npm registry"), "{c:?}");
        let c = from_build_log("ERROR: No matching distribution found for flaskk==9.9\n");
        assert_eq!(kinds(&c), [CauseKind::MissingPackage]);
        assert!(c[0].message.contains("`flaskk==9.9`"), "{c:?}");
        let c = from_build_log("E: Unable to locate package nodejss\n");
        assert!(c[0].message.contains("`nodejss`"), "{c:?}");
        let c = from_build_log(
            "Step 1/4 : FROM python:3.12-slim\npull access denied for python, repository does not exist or may require 'docker login'\n",
        );
        assert_eq!(kinds(&c), [CauseKind::UnknownBaseImage]);
        assert!(c[0].message.contains("python:3.12-slim"), "{c:?}");
        assert!(from_build_log("/bin/sh: 1: syntax error near line 3\n").is_empty());
    }

    #[test]
    fn colours_leave_the_build_log_and_other_escapes_stay() {
        assert_eq!(
            strip_sgr("\x1b[1m\x1b[31mnpm ERR!\x1b[39m\x1b[22m code\x1b[0m \x1b[2J\x1b]0;t\x07"),
            "npm ERR! code \x1b[2J\x1b]0;t\x07"
        );
        assert_eq!(strip_sgr("plain \x1b["), "plain \x1b[");
    }
}
