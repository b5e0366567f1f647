//! How the grader talks to the engine, read from the environment as the docker CLI reads
//! it: DOCKER_HOST (a socket when unset), and TLS when DOCKER_TLS_VERIFY is set to
//! anything but the empty string (or for https://), with `key.pem`, `cert.pem` and
//! `ca.pem` in DOCKER_CERT_PATH (else ~/.docker). TLS needs the `tls` cargo feature
//! (bollard's rustls client): the default build has none, and says so.

use std::path::PathBuf;

use bollard::Docker;

use super::DockerError;

/// The transport the environment asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Transport {
    /// A socket or pipe: bollard's own defaults, as before.
    Local,
    /// Plain HTTP to `tcp://` or `http://`.
    Http(String),
    /// HTTPS with a client certificate from `certs`.
    Tls { host: String, certs: PathBuf },
}

impl Transport {
    /// The transport for these variables' values (`home`: the user's home, if known).
    pub(super) fn choose(
        docker_host: Option<&str>,
        tls_verify: Option<&str>,
        cert_path: Option<&str>,
        home: Option<PathBuf>,
    ) -> Result<Transport, DockerError> {
        let Some(host) = docker_host.map(str::trim).filter(|h| !h.is_empty()) else {
            return Ok(Transport::Local);
        };
        let tcp = host.starts_with("tcp://") || host.starts_with("http://");
        let tls =
            host.starts_with("https://") || (tcp && tls_verify.is_some_and(|v| !v.is_empty()));
        if tls {
            let certs = match cert_path.filter(|p| !p.is_empty()) {
                Some(p) => PathBuf::from(p),
                None => home
                    .map(|h| h.join(".docker"))
                    .ok_or_else(|| connect_error("DOCKER_TLS_VERIFY is set, but neither DOCKER_CERT_PATH nor a home folder says where the certificates are"))?,
            };
            return Ok(Transport::Tls {
                host: host.to_string(),
                certs,
            });
        }
        if tcp {
            return Ok(Transport::Http(host.to_string()));
        }
        Ok(Transport::Local)
    }

    /// A client for this transport (it has not spoken to the engine yet).
    pub(super) fn client(self) -> Result<Docker, DockerError> {
        let fail = |e: bollard::errors::Error| connect_error(e.to_string());
        match self {
            Transport::Local => Docker::connect_with_defaults().map_err(fail),
            Transport::Http(host) => {
                Docker::connect_with_http(&host, 120, bollard::API_DEFAULT_VERSION).map_err(fail)
            }
            Transport::Tls { host, certs } => tls_client(&host, &certs),
        }
    }
}

fn connect_error(message: impl Into<String>) -> DockerError {
    DockerError::Connect(message.into())
}

/// The transport DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH ask for.
pub(super) fn from_env() -> Result<Transport, DockerError> {
    let var = |name| std::env::var(name).ok();
    Transport::choose(
        var("DOCKER_HOST").as_deref(),
        var("DOCKER_TLS_VERIFY").as_deref(),
        var("DOCKER_CERT_PATH").as_deref(),
        var("HOME").map(PathBuf::from),
    )
}

#[cfg(feature = "tls")]
fn tls_client(host: &str, certs: &std::path::Path) -> Result<Docker, DockerError> {
    let [key, cert, ca] = ["key.pem", "cert.pem", "ca.pem"].map(|f| certs.join(f));
    for file in [&key, &cert, &ca] {
        if !file.is_file() {
            return Err(connect_error(format!(
                "DOCKER_TLS_VERIFY is set, but {} is missing (DOCKER_CERT_PATH names the folder of key.pem, cert.pem and ca.pem)",
                file.display()
            )));
        }
    }
    Docker::connect_with_ssl(host, &key, &cert, &ca, 120, bollard::API_DEFAULT_VERSION).map_err(
        |e| {
            connect_error(format!(
                "TLS to {host} with the certificates of {}: {e}",
                certs.display()
            ))
        },
    )
}

#[cfg(not(feature = "tls"))]
fn tls_client(host: &str, _certs: &std::path::Path) -> Result<Docker, DockerError> {
    Err(connect_error(format!(
        "{host} asks for TLS (DOCKER_TLS_VERIFY or https://), and this grader was built without it: build it with `--features tls`, or reach the engine without TLS (GitLab's docker:dind with DOCKER_TLS_CERTDIR=\"\" and DOCKER_HOST=tcp://docker:2375)"
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn choose(host: Option<&str>, verify: Option<&str>, path: Option<&str>) -> Transport {
        Transport::choose(host, verify, path, Some(PathBuf::from("/home/me"))).unwrap()
    }

    #[test]
    fn a_socket_or_nothing_is_local() {
        assert_eq!(choose(None, None, None), Transport::Local);
        assert_eq!(choose(Some(""), Some("1"), None), Transport::Local);
        assert_eq!(
            choose(Some("unix:///var/run/docker.sock"), Some("1"), None),
            Transport::Local
        );
    }

    #[test]
    fn tcp_is_plain_unless_tls_verify_is_set_to_something() {
        let plain = Transport::Http("tcp://docker:2375".into());
        assert_eq!(choose(Some("tcp://docker:2375"), None, None), plain);
        // The docker CLI reads an empty DOCKER_TLS_VERIFY as unset.
        assert_eq!(choose(Some("tcp://docker:2375"), Some(""), None), plain);
        assert_eq!(
            choose(Some("tcp://docker:2376"), Some("1"), Some("/certs/client")),
            Transport::Tls {
                host: "tcp://docker:2376".into(),
                certs: PathBuf::from("/certs/client")
            }
        );
        assert_eq!(
            choose(Some("https://docker:2376"), None, None),
            Transport::Tls {
                host: "https://docker:2376".into(),
                certs: PathBuf::from("/home/me/.docker")
            }
        );
    }

    #[test]
    fn tls_without_a_place_for_certificates_is_an_error() {
        let e = Transport::choose(Some("tcp://docker:2376"), Some("1"), None, None).unwrap_err();
        assert!(e.to_string().contains("DOCKER_CERT_PATH"), "{e}");
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn a_build_without_tls_says_how_to_get_it() {
        let t = choose(Some("tcp://docker:2376"), Some("1"), Some("/certs/client"));
        let e = t.client().unwrap_err().to_string();
        assert!(e.contains("--features tls"), "{e}");
        assert!(e.contains("DOCKER_TLS_CERTDIR"), "{e}");
    }

    #[cfg(feature = "tls")]
    #[test]
    fn missing_certificates_are_named() {
        let t = choose(
            Some("tcp://docker:2376"),
            Some("1"),
            Some("/nonexistent/certs"),
        );
        let e = t.client().unwrap_err().to_string();
        assert!(e.contains("/nonexistent/certs/key.pem is missing"), "{e}");
    }
}
