//! Which addresses webhook deliveries may reach.
//!
//! A chatbot's `webhookUrl` is set by an organization through the API, and the receiver's
//! answer is kept in the webhook records that organization reads. Left open, any tenant could
//! make Parlor POST to the machine's own services or its network's (a cloud metadata
//! endpoint, an admin port on localhost) and read what they answer. So by default deliveries
//! go to public addresses only: a URL naming a loopback, private, link-local or otherwise
//! non-public address is refused, and so is a host name that resolves only to such
//! addresses; the check is made on the addresses actually connected to (a resolver that
//! drops the others), so a name that resolves differently the second time gains nothing.
//! Redirects are not followed at all (see [`super::Webhooks::new`]).
//!
//! `parlor serve --webhook-allow-local-network` turns this off, for installations whose
//! receivers run on the same host or network and whose tenants are trusted.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The option that lifts the restriction, named in every refusal so an operator knows it.
pub const ALLOW_OPTION: &str = "--webhook-allow-local-network";

/// Whether `ip` is an address of this machine or a local network rather than a public one:
/// unspecified, loopback, private (RFC 1918, IPv6 unique local), carrier-grade NAT,
/// link-local (which holds cloud metadata services), multicast, broadcast, benchmarking and
/// documentation ranges, and the IPv6 forms that embed one (IPv4-mapped and -compatible).
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_local_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local_v4(v4);
            }
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64, which embeds an IPv4 address
                || (s[..6] == [0; 6]) // IPv4-compatible ::a.b.c.d (deprecated)
        }
    }
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64.0.0/10
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || a >= 240 // reserved
}

/// Why a URL's host may not be delivered to, when it is a literal address of a local
/// network; `None` for public addresses and host names (those are checked when resolved).
pub fn refuse_literal(url: &reqwest::Url) -> Option<String> {
    // An IPv6 host comes in brackets; a name does not parse as an address.
    let host = url.host_str()?;
    let ip: IpAddr = host.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    is_local(ip).then(|| format!("{ip} is a local network address; webhooks go to public addresses unless Parlor runs with {ALLOW_OPTION}"))
}

/// The system resolver, keeping only public addresses.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.iter().copied().filter(|a| !is_local(a.ip())).collect();
            if public.is_empty() && !found.is_empty() {
                let msg = format!(
                    "{host} resolves only to local network addresses ({}); webhooks go to public addresses unless Parlor runs with {ALLOW_OPTION}",
                    found.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", ")
                );
                return Err(msg.into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> bool {
        is_local(s.parse().unwrap())
    }

    #[test]
    fn tells_local_addresses_from_public_ones() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(local(ip), "{ip} is local");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!local(ip), "{ip} is public");
        }
    }

    #[test]
    fn refuses_literal_local_hosts_only() {
        let refused = |u: &str| refuse_literal(&u.parse().unwrap()).is_some();
        assert!(refused("http://127.0.0.1:8080/hook"));
        assert!(refused("http://[::1]/hook"));
        assert!(refused("http://169.254.169.254/latest/meta-data/"));
        assert!(!refused("https://93.184.215.14/hook"));
        assert!(!refused("https://hooks.example.com/hook"));
    }

    #[tokio::test]
    async fn a_name_of_this_machine_resolves_to_nothing_allowed() {
        let err = PublicOnly.resolve("localhost".parse().unwrap()).await.err().expect("refused");
        assert!(err.to_string().contains(ALLOW_OPTION), "{err}");
    }
}
