//! Checking a channel's URL before Bevara points a browser at it: it must be
//! http(s), well formed, and (unless allowed) resolve only to public addresses,
//! so a register entry cannot turn the worker against internal services.

use std::net::{IpAddr, Ipv4Addr};
use url::Url;

/// Why a target was refused or could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("malformed URL {url:?}: {reason}")]
    Malformed { url: String, reason: String },
    #[error("refused URL {url}: only http and https are captured, not {scheme}:")]
    Scheme { url: String, scheme: String },
    #[error("refused URL {url}: {host} resolves to the {kind} address {addr}; set allow_private_addresses (BEVARA_ALLOW_PRIVATE_ADDRESSES=1) to capture internal hosts")]
    Private {
        url: String,
        host: String,
        addr: IpAddr,
        kind: &'static str,
    },
    #[error("cannot resolve host {host} of {url}: {reason}")]
    Unresolvable {
        url: String,
        host: String,
        reason: String,
    },
}

/// Parses and checks the form of a URL (scheme, host), without any lookup.
pub fn parse(raw: &str) -> Result<Url, TargetError> {
    let url = Url::parse(raw.trim()).map_err(|e| TargetError::Malformed {
        url: raw.to_string(),
        reason: e.to_string(),
    })?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(TargetError::Scheme {
                url: raw.to_string(),
                scheme: other.to_string(),
            })
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(TargetError::Malformed {
            url: raw.to_string(),
            reason: "no host".into(),
        });
    }
    Ok(url)
}

/// Resolves the URL's host and refuses it if any address is not public,
/// unless `allow_private` is set.
pub async fn check(url: &Url, allow_private: bool) -> Result<(), TargetError> {
    check_with(
        url,
        &crate::browser::guard::Policy::new(allow_private, &[]).unwrap_or_default(),
    )
    .await
}

/// Resolves the URL's host and refuses it if the egress policy refuses any
/// of its addresses.
pub async fn check_with(
    url: &Url,
    policy: &crate::browser::guard::Policy,
) -> Result<(), TargetError> {
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(a)) => vec![IpAddr::V4(a)],
        Some(url::Host::Ipv6(a)) => vec![IpAddr::V6(a)],
        _ => {
            let lookup = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                tokio::net::lookup_host((host.as_str(), port)),
            )
            .await;
            let unresolvable = |reason: String| TargetError::Unresolvable {
                url: url.to_string(),
                host: host.clone(),
                reason,
            };
            match lookup {
                Err(_) => return Err(unresolvable("DNS lookup took over 10 s".into())),
                Ok(Err(e)) => return Err(unresolvable(e.to_string())),
                Ok(Ok(it)) => it.map(|sa| sa.ip()).collect(),
            }
        }
    };
    for addr in addrs {
        if let Some(kind) = policy.refuses(&host, addr) {
            return Err(TargetError::Private {
                url: url.to_string(),
                host,
                addr,
                kind,
            });
        }
    }
    Ok(())
}

/// Names the kind of a non-public address, or `None` for a public one.
pub fn non_public(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(a) => non_public_v4(a),
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return non_public_v4(v4);
            }
            let seg = a.segments();
            let bits = u128::from(a);
            let v4_at = |shift: u32| Ipv4Addr::from((bits >> shift) as u32);
            if a.is_loopback() {
                Some("loopback")
            } else if a.is_unspecified() {
                Some("unspecified")
            } else if a.is_multicast() {
                Some("multicast")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("unique-local (private)")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if seg[0] & 0xffc0 == 0xfec0 {
                Some("site-local")
            } else if bits >> 32 == 0 {
                // IPv4-compatible ::a.b.c.d: whatever it embeds.
                non_public_v4(v4_at(0)).or(Some("reserved"))
            } else if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
                // NAT64 reaches the IPv4 address it embeds.
                non_public_v4(v4_at(0))
            } else if seg[0] == 0x2002 {
                // 6to4 tunnels to the IPv4 address in bits 16–48.
                non_public_v4(v4_at(80))
            } else if seg[0] == 0x2001 && seg[1] == 0 {
                // Teredo: the server (bits 32–64) and the client (last 32, inverted).
                non_public_v4(v4_at(64)).or(non_public_v4(Ipv4Addr::from(!(bits as u32))))
            } else if seg[0] == 0x2001 && seg[1] == 0x0db8
                || seg[0] == 0x0100 && bits >> 64 == 0x0100_0000_0000_0000
            {
                Some("reserved")
            } else {
                None
            }
        }
    }
}

fn non_public_v4(a: Ipv4Addr) -> Option<&'static str> {
    let o = a.octets();
    if a.is_loopback() {
        Some("loopback")
    } else if a.is_private() {
        Some("private")
    } else if a.is_link_local() {
        Some("link-local")
    } else if a.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        Some("reserved (IETF protocol assignments)")
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        Some("shared (carrier-grade NAT)")
    } else if a.is_multicast()
        || a.is_broadcast()
        || o[0] >= 240
        || a.is_documentation()
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
    {
        Some("reserved")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_forms() {
        assert!(parse("https://www.facebook.com/salakommun").is_ok());
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "chrome://settings",
            "data:text/html,x",
            "ftp://x.se/",
        ] {
            assert!(
                matches!(parse(bad), Err(TargetError::Scheme { .. })),
                "{bad}"
            );
        }
        for bad in ["not a url", "http://", "https://"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn address_kinds() {
        for (a, private) in [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("100.64.0.1", true),
            ("0.0.0.0", true),
            ("::1", true),
            ("fd00::1", true),
            ("fe80::1", true),
            ("::ffff:127.0.0.1", true),
            ("::127.0.0.1", true),
            ("::8.8.8.8", true),
            ("64:ff9b::7f00:1", true),
            ("64:ff9b::808:808", false),
            ("2002:0a00:0001::1", true),
            ("2002:0808:0808::1", false),
            ("2001:0:0808:0808::f5ff:fffe", true),
            ("2001:0:0808:0808::f7f7:f7f7", false),
            ("fec0::1", true),
            ("100::1", true),
            ("192.0.0.8", true),
            ("198.18.0.1", true),
            ("100.127.255.254", true),
            ("255.255.255.255", true),
            ("224.0.0.1", true),
            ("8.8.8.8", false),
            ("2a00:1450:4001::1", false),
        ] {
            assert_eq!(non_public(a.parse().unwrap()).is_some(), private, "{a}");
        }
    }

    #[tokio::test]
    async fn loopback_refused_unless_allowed() {
        let u = parse("http://127.0.0.1:9/").unwrap();
        assert!(matches!(
            check(&u, false).await,
            Err(TargetError::Private { .. })
        ));
        assert!(check(&u, true).await.is_ok());
        let u = parse("http://localhost:9/").unwrap();
        assert!(matches!(
            check(&u, false).await,
            Err(TargetError::Private { .. })
        ));
    }
}
