//! Causes in a failed build's log: an unknown base image, a registry the build could
//! not reach, a package that does not exist; and the log without its colours.

use grader_report::{Cause, CauseKind};

use super::{SandboxRules, evidence, push};

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
    use super::super::tests::kinds;
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
