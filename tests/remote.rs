//! End-to-end on a remote engine: the grader runs inside a container on a network of its
//! own and reaches the engine only over TCP, as a GitLab job reaches `docker:dind`. A
//! relay (socat, with the engine's socket mounted) listens on that network as `relay`;
//! the grader container has `DOCKER_HOST=tcp://relay:2375` and no socket. The relay's
//! address is no address of the engine's host, so the probe host is given: the network's
//! gateway, which is one (the engine publishes the forwarders' ports there, and only
//! there). Everything the test makes carries `grader.run=<its id>`; a guard removes it,
//! even when an assertion fails.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use grader_report::{CheckStatus, Report, RunStatus};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `docker ARGS`, which must succeed; its stdout, trimmed.
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `docker ARGS` for cleaning up: failures are ignored.
fn docker_quietly(args: &[&str]) -> String {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The test's network, relay and grader containers. Dropping it stops the graders first
/// (SIGTERM: a grader removes its own run, through the relay), then removes everything
/// labelled with the test's id.
struct World {
    id: String,
    net: String,
    /// The network's gateway: the engine's host on it.
    gateway: String,
    out: PathBuf,
}

impl World {
    fn new() -> World {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let id = format!("grader-remote-{}-{nanos:x}", std::process::id());
        let out = std::env::temp_dir().join(&id);
        std::fs::create_dir_all(&out).unwrap();
        let mut world = World {
            net: format!("{id}-net"),
            gateway: String::new(),
            out,
            id,
        };
        let label = world.label();
        docker(&["network", "create", "--label", &label, &world.net]);
        let gateway = docker(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
            &world.net,
        ]);
        assert!(!gateway.is_empty(), "{} has no gateway", world.net);
        world.gateway = gateway;
        world
    }

    fn label(&self) -> String {
        format!("grader.run={}", self.id)
    }

    /// The engine's API on the test's network only, as `relay:2375`.
    fn start_relay(&self) {
        self.run_relay(
            &[],
            &[
                "alpine/socat:latest",
                "TCP-LISTEN:2375,fork,reuseaddr",
                "UNIX-CONNECT:/var/run/docker.sock",
            ],
        );
    }

    /// A relay container named `relay` on the test's network, with the engine's socket
    /// (and `volumes`) mounted, running `image_and_command`.
    fn run_relay(&self, volumes: &[String], image_and_command: &[&str]) {
        let name = format!("{}-relay", self.id);
        let mut args = vec![
            "run".to_string(),
            "-d".into(),
            "--name".into(),
            name.clone(),
            "--label".into(),
            self.label(),
            "--label".into(),
            "grader.role=remote-relay".into(),
            "--network".into(),
            self.net.clone(),
            "--network-alias".into(),
            "relay".into(),
            "-v".into(),
            "/var/run/docker.sock:/var/run/docker.sock".into(),
        ];
        for v in volumes {
            args.extend(["-v".to_string(), v.clone()]);
        }
        args.extend(image_and_command.iter().map(|a| a.to_string()));
        docker(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let running = docker(&["inspect", "-f", "{{.State.Running}}", &name]);
        assert_eq!(running, "true", "the relay is not running");
    }

    /// The engine's API on the test's network behind TLS, as `relay:2376`: stunnel
    /// presents a certificate for `relay` signed by the test's CA and admits only a
    /// client with a certificate of that CA, as `dockerd --tlsverify` does. (socat's
    /// TLS server cannot resume a session with client verification on, which every
    /// client's second connection asks for; dockerd's can, and so can stunnel.)
    #[cfg(feature = "tls")]
    fn start_tls_relay(&self, certs: &Path) {
        let image = format!("grader-test/tls-relay:{}", self.id);
        let context = self.out.join("tls-relay");
        std::fs::create_dir_all(&context).unwrap();
        std::fs::write(
            context.join("Dockerfile"),
            "FROM debian:bookworm-slim\n\
             RUN apt-get update && apt-get install -y --no-install-recommends stunnel4 \\\n \
             && rm -rf /var/lib/apt/lists/*\n",
        )
        .unwrap();
        docker(&[
            "build",
            "-q",
            "--label",
            &self.label(),
            "-t",
            &image,
            context.to_str().unwrap(),
        ]);
        std::fs::write(
            certs.join("stunnel.conf"),
            "foreground = yes\npid =\n[docker]\naccept = 2376\nconnect = /var/run/docker.sock\n\
             cert = /certs/server-cert.pem\nkey = /certs/server-key.pem\nCAfile = /certs/ca.pem\n\
             verifyChain = yes\nrequireCert = yes\n",
        )
        .unwrap();
        self.run_relay(
            &[format!("{}:/certs:ro", certs.display())],
            &[&image, "stunnel", "/certs/stunnel.conf"],
        );
    }

    /// `grader ARGS` in a container on the test's network: the binary, the exercises and
    /// the recipes mounted read-only, DOCKER_HOST on the relay, no socket.
    fn grader(&self, name: &str, args: &[&str]) -> Output {
        self.grader_with(name, &["DOCKER_HOST=tcp://relay:2375"], &[], args)
    }

    /// `grader ARGS` as `grader`, with these variables and mounts besides.
    fn grader_with(&self, name: &str, env: &[&str], extra: &[String], args: &[&str]) -> Output {
        let bin = env!("CARGO_BIN_EXE_grader");
        let root = root().canonicalize().unwrap();
        let mut mounts = vec![
            format!("{bin}:/usr/local/bin/grader:ro"),
            format!("{}:/grader/exercises:ro", root.join("exercises").display()),
            format!("{}:/grader/docker:ro", root.join("docker").display()),
            format!("{}:/out", self.out.display()),
        ];
        mounts.extend(extra.iter().cloned());
        let container = format!("{}-grader-{name}", self.id);
        let probe = format!("GRADER_PROBE_HOST={}", self.gateway);
        let mut cmd = Command::new("docker");
        cmd.args(["run", "--rm", "--init", "--name", &container])
            .args(["--label", &self.label()])
            .args(["--label", "grader.role=remote-grader"])
            .args(["--network", &self.net])
            .args(["-e", &probe])
            .args(["-e", "NO_COLOR=1", "-w", "/grader"]);
        for e in env {
            cmd.args(["-e", e]);
        }
        for m in &mounts {
            cmd.args(["-v", m]);
        }
        cmd.args(["debian:bookworm-slim", "grader"]).args(args);
        cmd.output().expect("run the grader's container")
    }

    fn report(&self, name: &str, output: &Output) -> Report {
        let text = std::fs::read_to_string(self.out.join(name).join("report.json"))
            .unwrap_or_else(|e| panic!("no report.json for {name} ({e}):\n{}", shown(output)));
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let mine = format!("label={}", self.label());
        for role in ["remote-grader", "remote-relay"] {
            let ids = docker_quietly(&[
                "ps",
                "-aq",
                "--filter",
                &mine,
                "--filter",
                &format!("label=grader.role={role}"),
            ]);
            for id in ids.lines() {
                docker_quietly(&["stop", "-t", "60", id]);
                docker_quietly(&["rm", "-f", id]);
            }
        }
        for id in docker_quietly(&["ps", "-aq", "--filter", &mine]).lines() {
            docker_quietly(&["rm", "-f", id]);
        }
        for id in docker_quietly(&["network", "ls", "-q", "--filter", &mine]).lines() {
            docker_quietly(&["network", "rm", id]);
        }
        for id in docker_quietly(&["images", "-q", "--filter", &mine]).lines() {
            docker_quietly(&["rmi", "-f", id]);
        }
        let _ = std::fs::remove_dir_all(&self.out);
    }
}

fn shown(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Checks that failed (or that the grader could not run).
fn lost(report: &Report) -> BTreeSet<String> {
    report
        .checks
        .iter()
        .filter(|c| matches!(c.status, CheckStatus::Failed | CheckStatus::Error))
        .map(|c| c.id.clone())
        .collect()
}

/// Nothing of the grader's own run may remain.
fn assert_nothing_left(run_id: &str) {
    let filter = format!("label=grader.run={run_id}");
    for what in [&["ps", "-aq"][..], &["network", "ls", "-q"][..]] {
        let left = docker(&[what, &["--filter", &filter]].concat());
        assert!(left.is_empty(), "docker {what:?} still lists {left}");
    }
}

#[derive(serde::Deserialize)]
struct Variant {
    fails: BTreeSet<String>,
}

#[test]
fn a_grader_in_a_container_grades_through_a_remote_engine() {
    // The images exist (built by `grader images` on this machine, as for tests/e2e.rs).
    let world = World::new();
    world.start_relay();

    let began = Instant::now();
    let out = world.grader(
        "reference",
        &[
            "grade",
            "todo-api",
            "exercises/todo-api/solutions/python",
            "--out",
            "/out/reference",
            "--timeout",
            "1200",
        ],
    );
    let took_reference = began.elapsed();
    let report = world.report("reference", &out);
    assert_eq!(report.status, RunStatus::Graded, "{}", shown(&out));
    assert!(
        lost(&report).is_empty(),
        "lost {:?}\n{}",
        lost(&report),
        shown(&out)
    );
    assert!(report.max_score > 0.0);
    assert_eq!(report.score, report.max_score, "{}", shown(&out));
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert_nothing_left(&report.run_id);

    // A faulty variant loses exactly what it declares: it keeps todos in memory, so the
    // checks that read the table (through the probe host's PostgreSQL port), restart it
    // or crash it lose; the others pass.
    let variant = root().join("exercises/todo-api/variants/in-memory");
    let declared: Variant =
        toml::from_str(&std::fs::read_to_string(variant.join("variant.toml")).unwrap()).unwrap();
    // Applied here: the grader applies a variant's patch with git, which the grader's
    // container (debian:bookworm-slim) does not have.
    let source = world.out.join("in-memory");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(root().join("exercises/todo-api/solutions/python"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(copied.success());
    let applied = Command::new("git")
        .args(["apply", "--whitespace=nowarn"])
        .arg(variant.join("mistake.patch"))
        .current_dir(&source)
        .status()
        .unwrap();
    assert!(applied.success(), "git apply mistake.patch");
    let began = Instant::now();
    let out = world.grader(
        "variant",
        &[
            "grade",
            "todo-api",
            "/out/in-memory",
            "--out",
            "/out/variant",
            "--timeout",
            "1200",
        ],
    );
    let took_variant = began.elapsed();
    let report = world.report("variant", &out);
    assert_eq!(report.status, RunStatus::Graded, "{}", shown(&out));
    assert_eq!(lost(&report), declared.fails, "{}", shown(&out));
    let passed = report
        .checks
        .iter()
        .find(|c| c.id == "create-status")
        .expect("create-status");
    assert_eq!(passed.status, CheckStatus::Passed, "{}", shown(&out));
    assert_nothing_left(&report.run_id);
    eprintln!(
        "remote engine: reference graded in {:.0}s, variant in {:.0}s",
        took_reference.as_secs_f64(),
        took_variant.as_secs_f64()
    );
}

/// A CA, a server certificate for `relay` and a client certificate, in `dir` as the
/// docker CLI wants them (ca.pem, cert.pem, key.pem) and as the relay serves them.
#[cfg(feature = "tls")]
fn make_certs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=grader test CA",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:relay\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (who, subject, ext, cert) in [
        ("server", "/CN=relay", "server.ext", "server-cert.pem"),
        ("client", "/CN=grader", "client.ext", "cert.pem"),
    ] {
        let key = if who == "server" {
            "server-key.pem"
        } else {
            "key.pem"
        };
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            key,
            "-out",
            &format!("{who}.csr"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{who}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            ext,
            "-out",
            cert,
        ]);
    }
}

/// With DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as GitLab's `docker:dind` with its
/// default DOCKER_TLS_CERTDIR: the grader speaks TLS with a client certificate to the
/// engine's API (here a relay that verifies both sides in front of the engine's
/// socket). Needs the `tls` feature (the test command enables every feature).
#[cfg(feature = "tls")]
#[test]
fn over_tls_with_client_certificates_the_reference_scores_full_marks() {
    let world = World::new();
    let certs = world.out.join("certs");
    make_certs(&certs);
    world.start_tls_relay(&certs);
    let out = world.grader_with(
        "tls",
        &[
            "DOCKER_HOST=tcp://relay:2376",
            "DOCKER_TLS_VERIFY=1",
            "DOCKER_CERT_PATH=/certs",
        ],
        &[format!("{}:/certs:ro", certs.display())],
        &[
            "grade",
            "todo-api",
            "exercises/todo-api/solutions/python",
            "--out",
            "/out/tls",
            "--timeout",
            "1200",
        ],
    );
    let report = world.report("tls", &out);
    assert_eq!(report.status, RunStatus::Graded, "{}", shown(&out));
    assert_eq!(report.score, report.max_score, "{}", shown(&out));
    assert_nothing_left(&report.run_id);

    // Without the client certificate the engine is not reached: the grader says so.
    let out = world.grader_with(
        "no-cert",
        &[
            "DOCKER_HOST=tcp://relay:2376",
            "DOCKER_TLS_VERIFY=1",
            "DOCKER_CERT_PATH=/nowhere",
        ],
        &[],
        &[
            "grade",
            "todo-api",
            "exercises/todo-api/solutions/python",
            "--out",
            "/out/no-cert",
        ],
    );
    let said = shown(&out);
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("/nowhere/key.pem is missing"), "{said}");
}
