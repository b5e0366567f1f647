//! The sockets a submission listens on, read from `/proc/net/tcp`, and the cause they
//! show: a server on loopback or on another port than `$PORT`.

use std::net::IpAddr;

use grader_report::{Cause, CauseKind};

use super::SandboxRules;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
