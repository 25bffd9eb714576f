//! The client address of a request, for per-address limits: the peer, or — when the peer is a
//! configured trusted proxy — the nearest `X-Forwarded-For` hop that is not one.

use std::net::{IpAddr, Ipv6Addr};

use actix_web::HttpRequest;

use crate::settings::SettingsError;

/// An address range (`10.0.0.0/8`, `2001:db8::/32`) or one address.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Option<Cidr> {
        let (address, prefix) = match raw.trim().split_once('/') {
            Some((address, prefix)) => (address.parse::<IpAddr>().ok()?, Some(prefix)),
            None => (raw.trim().parse::<IpAddr>().ok()?, None),
        };
        let address = canonical(address);
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= bits)?,
            None => bits,
        };
        Some(Cidr {
            network: address,
            prefix,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), self.prefix, 128) == masked(ip.into(), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn masked(bits: u128, prefix: u8, width: u32) -> u128 {
    bits.checked_shr(width - u32::from(prefix)).unwrap_or(0)
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) as the IPv4 address they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The form an address is counted in: IPv6 clients by their /64, since one host usually holds
/// a whole /64.
pub fn counted(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::MAX >> 64);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
        v4 => v4.to_string(),
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Parses the setting `key` (addresses or ranges); the error names the entry.
    pub fn parse(values: &[String], key: &str) -> Result<Self, SettingsError> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                Cidr::parse(v).ok_or_else(|| {
                    SettingsError::invalid(
                        format!("{key}[{i}]"),
                        "must be an IP address or a range like 10.0.0.0/8",
                    )
                })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// The client address of `req` (see the module docs); `None` without a peer address.
    pub fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        Some(self.resolve(peer, &forwarded))
    }

    /// `X-Forwarded-For` read from the right, skipping trusted proxies, up to the first address
    /// that is not one. A hop that does not parse stops the walk at the last address known.
    fn resolve(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let trusted = |ip: IpAddr| self.0.iter().any(|t| t.contains(ip));
        let mut client = canonical(peer);
        if !trusted(client) {
            return client;
        }
        let hops: Vec<&str> = forwarded_for.iter().flat_map(|v| v.split(',')).collect();
        for hop in hops.into_iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = canonical(ip);
            if !trusted(client) {
                return client;
            }
        }
        client
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.1.2.3")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        assert!(!net.contains(ip("11.0.0.1")));
        let one = Cidr::parse("192.0.2.7").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("203.0.113.1"))
        );
        for bad in ["10.0.0.0/33", "localhost", "10.0.0.0/x", "", "::/129"] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into()], "k").unwrap();
        let none = TrustedProxies::default();
        let peer = ip("10.0.0.5");
        let xff = ["198.51.100.9, 203.0.113.4", "10.0.0.2"];
        assert_eq!(trusted.resolve(peer, &xff), ip("203.0.113.4"));
        // An untrusted peer is the client, whatever it claims.
        assert_eq!(trusted.resolve(ip("192.0.2.1"), &xff), ip("192.0.2.1"));
        assert_eq!(none.resolve(peer, &xff), peer);
        // A spoofed left part cannot hide the address the proxy saw.
        assert_eq!(
            trusted.resolve(peer, &["1.1.1.1, 203.0.113.4"]),
            ip("203.0.113.4")
        );
        assert_eq!(trusted.resolve(peer, &[]), peer);
        assert_eq!(
            trusted.resolve(peer, &["garbage, 10.0.0.3"]),
            ip("10.0.0.3")
        );
        assert_eq!(
            trusted.resolve(peer, &["[2001:db8::1]:4711"]),
            ip("2001:db8::1")
        );
        assert!(TrustedProxies::parse(&["nope".into()], "k").is_err());
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        assert_eq!(
            counted(ip("2001:db8:1:2:aaaa::1")),
            counted(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            counted(ip("2001:db8:1:2::1")),
            counted(ip("2001:db8:1:3::1"))
        );
        assert_eq!(counted(ip("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(counted(ip("2001:db8::1:2")), "2001:db8::/64");
    }
}
