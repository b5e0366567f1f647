//! Where the grader reaches the ports the engine publishes (the probe host), and where
//! the engine binds them. A local engine (a unix socket, or no DOCKER_HOST) publishes on
//! 127.0.0.1 and is probed there, as always. A remote one (`tcp://HOST:PORT`, as GitLab's
//! `docker:dind` service) is probed at HOST's address and binds there too: the ports are
//! open on that one address of the engine's host, not on all of them. `--probe-host`
//! names another address (a socket mounted into a job container: the bridge's gateway);
//! `--publish-on` binds elsewhere (`0.0.0.0` only when the probe host is no address of
//! the engine's host, e.g. behind NAT: it opens the ports on every interface).

use std::io;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

/// The probe host and the bind address of every published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// What the grader connects to.
    probe: IpAddr,
    /// What the engine binds published ports to.
    bind: IpAddr,
}

impl Default for Reach {
    /// A local engine: 127.0.0.1 for both.
    fn default() -> Reach {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Reach {
            probe: lo,
            bind: lo,
        }
    }
}

/// What the command line and the environment say; all optional.
#[derive(Debug, Clone, Default)]
pub struct ReachOptions {
    /// DOCKER_HOST as set (empty counts as unset, as for the docker CLI).
    pub docker_host: Option<String>,
    /// `--probe-host` (or GRADER_PROBE_HOST): an address or a host name.
    pub probe_host: Option<String>,
    /// `--publish-on` (or GRADER_PUBLISH_ON): an address of the engine's host, or 0.0.0.0.
    pub publish_on: Option<String>,
}

/// A value that names no reachable address, and which one.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error(
        "DOCKER_HOST `{value}`: {why} (the grader speaks unix://, tcp://, http:// and https://, e.g. tcp://docker:2375)"
    )]
    DockerHost { value: String, why: String },
    #[error(
        "--probe-host `{value}`: {why} (give an address or a host name, without scheme or port, e.g. 172.17.0.1 or docker)"
    )]
    ProbeHost { value: String, why: String },
    #[error(
        "--publish-on `{value}`: {why} (give an address of the Docker engine's host, or 0.0.0.0 for all of them)"
    )]
    PublishOn { value: String, why: String },
    #[error("cannot resolve `{host}` (from {from}) to an address: {source}")]
    Resolve {
        host: String,
        from: &'static str,
        #[source]
        source: io::Error,
    },
}

impl ReachOptions {
    /// The options as given, with DOCKER_HOST read from the environment.
    pub fn from_env(probe_host: Option<String>, publish_on: Option<String>) -> ReachOptions {
        ReachOptions {
            docker_host: std::env::var("DOCKER_HOST").ok(),
            probe_host,
            publish_on,
        }
    }

    /// Derives the reach, resolving names with the system's resolver.
    pub fn reach(&self) -> Result<Reach, ReachError> {
        self.derive(&system_resolve)
    }

    /// Derives the reach; `resolve` turns a host name into its addresses.
    pub fn derive(
        &self,
        resolve: &dyn Fn(&str) -> io::Result<Vec<IpAddr>>,
    ) -> Result<Reach, ReachError> {
        let probe = match non_empty(&self.probe_host) {
            Some(given) => Some(probe_host(given, resolve)?),
            None => engine_host(non_empty(&self.docker_host), resolve)?,
        };
        let Some(probe) = probe else {
            // A local engine: unchanged, unless only the bind address is given.
            return match non_empty(&self.publish_on) {
                Some(given) => Ok(Reach {
                    bind: publish_on(given)?,
                    ..Reach::default()
                }),
                None => Ok(Reach::default()),
            };
        };
        let bind = match non_empty(&self.publish_on) {
            Some(given) => publish_on(given)?,
            None => probe,
        };
        Ok(Reach { probe, bind })
    }
}

impl Reach {
    /// The probe host as it goes in a URL (`127.0.0.1`, `[fd00::1]`).
    pub fn url_host(&self) -> String {
        match self.probe {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        }
    }

    /// The address the engine binds published ports to.
    pub fn bind(&self) -> IpAddr {
        self.bind
    }

    /// What to say when the engine refuses to bind a port there.
    pub(crate) fn cannot_bind(&self, what: &str, error: &str) -> String {
        format!(
            "{what}: the Docker engine cannot publish a port on {} ({error}); it must be an address of the engine's host: give --probe-host an address of it (e.g. its bridge's gateway), or --publish-on another of its addresses (0.0.0.0 for all of them, which opens the ports to every network the host is on)",
            self.bind
        )
    }
}

/// True when `error` says the engine could not bind a published port.
pub(crate) fn is_bind_failure(error: &str) -> bool {
    error.contains("cannot assign requested address")
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn system_resolve(host: &str) -> io::Result<Vec<IpAddr>> {
    Ok((host, 0).to_socket_addrs()?.map(|a| a.ip()).collect())
}

/// An address, or a name resolved to one (IPv4 first: the engine's bridges are).
fn resolved(
    host: &str,
    from: &'static str,
    resolve: &dyn Fn(&str) -> io::Result<Vec<IpAddr>>,
) -> Result<IpAddr, ReachError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    let fail = |source| ReachError::Resolve {
        host: host.to_string(),
        from,
        source,
    };
    let all = resolve(host).map_err(fail)?;
    all.iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .copied()
        .ok_or_else(|| fail(io::Error::new(io::ErrorKind::NotFound, "no address")))
}

/// A host name as DNS allows it (letters, digits, `-`, `.`, `_`).
fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && !s.starts_with(['-', '.'])
}

fn probe_host(
    given: &str,
    resolve: &dyn Fn(&str) -> io::Result<Vec<IpAddr>>,
) -> Result<IpAddr, ReachError> {
    let bad = |why: &str| ReachError::ProbeHost {
        value: given.to_string(),
        why: why.to_string(),
    };
    let bare = given.trim_start_matches('[').trim_end_matches(']');
    let ip = match bare.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) if given.contains("://") => return Err(bad("a scheme is not an address")),
        Err(_) if given.contains(':') => return Err(bad("a port is not part of it")),
        Err(_) if !is_host_name(given) => return Err(bad("not an address nor a host name")),
        Err(_) => resolved(given, "--probe-host", resolve)?,
    };
    if ip.is_unspecified() {
        return Err(bad("the grader cannot connect to the unspecified address"));
    }
    Ok(ip)
}

fn publish_on(given: &str) -> Result<IpAddr, ReachError> {
    given
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map_err(|_| ReachError::PublishOn {
            value: given.to_string(),
            why: "not an IP address".into(),
        })
}

/// The engine's host from DOCKER_HOST: none for a local engine (a socket or a pipe).
fn engine_host(
    docker_host: Option<&str>,
    resolve: &dyn Fn(&str) -> io::Result<Vec<IpAddr>>,
) -> Result<Option<IpAddr>, ReachError> {
    let Some(value) = docker_host else {
        return Ok(None);
    };
    let bad = |why: &str| ReachError::DockerHost {
        value: value.to_string(),
        why: why.to_string(),
    };
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(bad("no scheme"));
    };
    match scheme {
        "unix" | "npipe" => return Ok(None),
        "tcp" | "http" | "https" => {}
        _ => return Err(bad(&format!("the scheme {scheme}:// is not supported"))),
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((addr, _)) => addr,
            None => return Err(bad("an unclosed [")),
        }
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    if host.parse::<IpAddr>().is_err() && !is_host_name(host) {
        return Err(bad("the host is not an address nor a host name"));
    }
    resolved(host, "DOCKER_HOST", resolve).map(Some)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn opts(docker_host: Option<&str>, probe: Option<&str>, publish: Option<&str>) -> ReachOptions {
        ReachOptions {
            docker_host: docker_host.map(String::from),
            probe_host: probe.map(String::from),
            publish_on: publish.map(String::from),
        }
    }

    /// `docker` is 172.18.0.3 (and an IPv6 address first); anything else is unknown.
    fn dns(host: &str) -> io::Result<Vec<IpAddr>> {
        match host {
            "docker" => Ok(vec![
                "fd00::3".parse().unwrap(),
                "172.18.0.3".parse().unwrap(),
            ]),
            "v6only" => Ok(vec!["fd00::9".parse().unwrap()]),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "unknown host")),
        }
    }

    fn no_dns(host: &str) -> io::Result<Vec<IpAddr>> {
        panic!("resolved {host}, an address needs no lookup")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn reach(o: ReachOptions) -> Reach {
        o.derive(&dns).unwrap()
    }

    fn error(o: ReachOptions) -> String {
        o.derive(&dns).unwrap_err().to_string()
    }

    #[test]
    fn a_local_engine_is_probed_and_published_on_loopback() {
        let local = Reach::default();
        for host in [None, Some(""), Some("unix:///var/run/docker.sock")] {
            let r = opts(host, None, None).derive(&no_dns).unwrap();
            assert_eq!(r, local, "{host:?}");
            assert_eq!(r.url_host(), "127.0.0.1");
            assert_eq!(r.bind, ip("127.0.0.1"));
        }
        let r = opts(Some("unix:///run/user/1000/docker.sock"), None, None);
        assert_eq!(r.derive(&no_dns).unwrap(), local);
    }

    #[test]
    fn a_tcp_engine_by_name_is_probed_and_published_at_its_address() {
        let r = reach(opts(Some("tcp://docker:2375"), None, None));
        assert_eq!(r.probe, ip("172.18.0.3"), "IPv4 first");
        assert_eq!(r.bind, ip("172.18.0.3"));
        assert_eq!(r.url_host(), "172.18.0.3");
        // With TLS (2376), and with no port at all: the same host.
        assert_eq!(reach(opts(Some("tcp://docker:2376"), None, None)), r);
        assert_eq!(reach(opts(Some("tcp://docker"), None, None)), r);
        assert_eq!(reach(opts(Some("https://docker:2376/"), None, None)), r);
    }

    #[test]
    fn a_tcp_engine_by_address_needs_no_lookup() {
        let r = opts(Some("tcp://10.1.2.3:2375"), None, None)
            .derive(&no_dns)
            .unwrap();
        assert_eq!((r.probe, r.bind), (ip("10.1.2.3"), ip("10.1.2.3")));
        let r = opts(Some("tcp://[fd00::7]:2376"), None, None)
            .derive(&no_dns)
            .unwrap();
        assert_eq!(r.probe, ip("fd00::7"));
        assert_eq!(r.url_host(), "[fd00::7]");
        // Loopback over TCP: as local as a socket.
        let r = opts(Some("tcp://127.0.0.1:2375"), None, None)
            .derive(&no_dns)
            .unwrap();
        assert_eq!(r, Reach::default());
    }

    #[test]
    fn a_host_with_only_ipv6_gets_that() {
        let r = reach(opts(Some("tcp://v6only:2375"), None, None));
        assert_eq!(r.url_host(), "[fd00::9]");
    }

    #[test]
    fn the_probe_host_given_wins_over_docker_host() {
        for host in [
            None,
            Some("unix:///var/run/docker.sock"),
            Some("tcp://docker:2375"),
            Some("tcp://engine.invalid:2375"),
        ] {
            let r = reach(opts(host, Some("172.17.0.1"), None));
            assert_eq!((r.probe, r.bind), (ip("172.17.0.1"), ip("172.17.0.1")));
        }
        let r = reach(opts(None, Some("docker"), None));
        assert_eq!(r.probe, ip("172.18.0.3"));
        let r = reach(opts(None, Some("[fd00::1]"), None));
        assert_eq!(r.url_host(), "[fd00::1]");
    }

    #[test]
    fn the_bind_address_given_wins_and_never_moves_the_probe_host() {
        let r = reach(opts(Some("tcp://docker:2375"), None, Some("0.0.0.0")));
        assert_eq!((r.probe, r.bind), (ip("172.18.0.3"), ip("0.0.0.0")));
        let r = reach(opts(None, None, Some("0.0.0.0")));
        assert_eq!((r.probe, r.bind), (ip("127.0.0.1"), ip("0.0.0.0")));
    }

    #[test]
    fn bad_values_are_named_with_what_to_give() {
        let e = error(opts(Some("ssh://me@engine"), None, None));
        assert!(e.contains("DOCKER_HOST `ssh://me@engine`"), "{e}");
        assert!(e.contains("ssh:// is not supported"), "{e}");
        let e = error(opts(Some("docker:2375"), None, None));
        assert!(e.contains("no scheme"), "{e}");
        let e = error(opts(Some("tcp://:2375"), None, None));
        assert!(e.contains("no host"), "{e}");
        let e = error(opts(Some("tcp://[fd00::1:2375"), None, None));
        assert!(e.contains("unclosed"), "{e}");
        let e = error(opts(Some("tcp://engine.invalid:2375"), None, None));
        assert!(
            e.contains("cannot resolve `engine.invalid` (from DOCKER_HOST)"),
            "{e}"
        );

        let e = error(opts(None, Some("http://docker"), None));
        assert!(e.contains("--probe-host `http://docker`: a scheme"), "{e}");
        let e = error(opts(None, Some("docker:2375"), None));
        assert!(e.contains("a port is not part of it"), "{e}");
        let e = error(opts(None, Some("no such/host"), None));
        assert!(e.contains("not an address nor a host name"), "{e}");
        let e = error(opts(None, Some("0.0.0.0"), None));
        assert!(e.contains("unspecified address"), "{e}");
        let e = error(opts(None, Some("nowhere.invalid"), None));
        assert!(
            e.contains("cannot resolve `nowhere.invalid` (from --probe-host)"),
            "{e}"
        );

        let e = error(opts(None, None, Some("everywhere")));
        assert!(
            e.contains("--publish-on `everywhere`: not an IP address"),
            "{e}"
        );
    }

    #[test]
    fn a_refused_bind_says_what_to_do() {
        let r = reach(opts(None, Some("10.9.8.7"), None));
        let text = r.cannot_bind("starting the forwarder", "cannot assign requested address");
        assert!(text.contains("cannot publish a port on 10.9.8.7"), "{text}");
        assert!(text.contains("--publish-on"), "{text}");
        assert!(is_bind_failure(
            "listen tcp4 10.9.8.7:0: bind: cannot assign requested address"
        ));
        assert!(!is_bind_failure("No such image: alpine/socat:latest"));
        assert!(!is_bind_failure("port is already allocated"));
    }
}
