//! The node's data plane: IP forwarding and one nftables table of its own
//! (`inet truevault`), replaced in a single `nft -f` transaction so there is
//! never a moment without rules, and never touching any other table.
//!
//! The rules are a constant handful; what grows with peers and grants are
//! sets keyed by peer address (concatenated `source . destination [. port]`
//! interval sets), which nftables looks up in one step, so 10,000 peers do
//! not mean 10,000 rules walked per packet.

use std::{fmt::Write as _, net::IpAddr};

use truevault_wire::node::{DataPlane, Ports};

/// The table this agent owns; nothing else is ever touched.
pub const TABLE: &str = "truevault";

/// An interface name as the kernel takes it (≤ 15 bytes, no spaces or
/// quotes), so it can be put into an nft script as a quoted string.
pub fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

/// The script for `nft -f`: create-if-missing, delete, recreate — one
/// transaction, applied whole or not at all.
/// `egress`: the uplink; without one, peers get no internet (no accept, no
/// masquerade) whatever the desired state says.
pub fn render(tunnel: &str, egress: Option<&str>, plane: &DataPlane) -> String {
    let mut all4 = Vec::new();
    let mut all6 = Vec::new();
    let mut tcp4 = Vec::new();
    let mut tcp6 = Vec::new();
    for g in &plane.grants {
        let v4 = g.source.is_ipv4();
        if v4 != g.destination.addr().is_ipv4() {
            // A v4 source never sends to a v6 network: nothing to allow.
            continue;
        }
        match &g.ports {
            Ports::All => {
                let e = format!("{} . {}", g.source, g.destination);
                if v4 {
                    all4.push(e)
                } else {
                    all6.push(e)
                }
            }
            Ports::Tcp(ports) => {
                for p in ports {
                    let e = format!("{} . {} . {p}", g.source, g.destination);
                    if v4 {
                        tcp4.push(e)
                    } else {
                        tcp6.push(e)
                    }
                }
            }
        }
    }
    for v in [&mut all4, &mut all6, &mut tcp4, &mut tcp6] {
        v.sort();
        v.dedup();
    }
    let dns4: Vec<String> = plane
        .dns
        .iter()
        .filter(|a| a.is_ipv4())
        .map(IpAddr::to_string)
        .collect();
    let dns6: Vec<String> = plane
        .dns
        .iter()
        .filter(|a| a.is_ipv6())
        .map(IpAddr::to_string)
        .collect();

    let mut s = String::with_capacity(4096 + 48 * (all4.len() + tcp4.len()));
    let _ = writeln!(s, "table inet {TABLE} {{}}");
    let _ = writeln!(s, "delete table inet {TABLE}");
    let _ = writeln!(s, "table inet {TABLE} {{");
    set(&mut s, "grant_all4", "ipv4_addr . ipv4_addr", true, &all4);
    set(&mut s, "grant_all6", "ipv6_addr . ipv6_addr", true, &all6);
    set(
        &mut s,
        "grant_tcp4",
        "ipv4_addr . ipv4_addr . inet_service",
        true,
        &tcp4,
    );
    set(
        &mut s,
        "grant_tcp6",
        "ipv6_addr . ipv6_addr . inet_service",
        true,
        &tcp6,
    );
    set(&mut s, "dns4", "ipv4_addr", false, &dns4);
    set(&mut s, "dns6", "ipv6_addr", false, &dns6);
    let _ = writeln!(
        s,
        "  chain forward {{\n    type filter hook forward priority filter; policy accept;\n    \
         iifname \"{tunnel}\" jump from_tunnel\n    \
         oifname \"{tunnel}\" ct state established,related accept\n    \
         oifname \"{tunnel}\" drop\n  }}"
    );
    let _ = writeln!(
        s,
        "  chain from_tunnel {{\n    ct state established,related accept\n    \
         ip saddr . ip daddr @grant_all4 accept\n    \
         ip6 saddr . ip6 daddr @grant_all6 accept\n    \
         ip saddr . ip daddr . tcp dport @grant_tcp4 accept\n    \
         ip6 saddr . ip6 daddr . tcp dport @grant_tcp6 accept\n    \
         oifname \"{tunnel}\" drop\n    \
         ip daddr @dns4 meta l4proto {{ tcp, udp }} th dport 53 accept\n    \
         ip6 daddr @dns6 meta l4proto {{ tcp, udp }} th dport 53 accept"
    );
    let egress = egress.filter(|_| plane.egress);
    if let Some(egress) = egress {
        let _ = writeln!(s, "    oifname \"{egress}\" accept");
    }
    let _ = writeln!(s, "    drop\n  }}");
    let _ = writeln!(
        s,
        "  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;"
    );
    if let Some(egress) = egress {
        let _ = writeln!(
            s,
            "    iifname \"{tunnel}\" oifname \"{egress}\" masquerade"
        );
    }
    let _ = writeln!(s, "  }}");
    s.push_str("}\n");
    s
}

fn set(s: &mut String, name: &str, ty: &str, interval: bool, elements: &[String]) {
    let _ = write!(s, "  set {name} {{\n    type {ty}\n");
    if interval {
        s.push_str("    flags interval\n");
    }
    if !elements.is_empty() {
        s.push_str("    elements = {\n");
        for chunk in elements.chunks(8) {
            s.push_str("      ");
            s.push_str(&chunk.join(", "));
            s.push_str(",\n");
        }
        s.push_str("    }\n");
    }
    s.push_str("  }\n");
}

/// The script that removes the table (`--uninstall`); absent is fine.
pub fn render_uninstall() -> String {
    format!("table inet {TABLE} {{}}\ndelete table inet {TABLE}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use truevault_wire::node::Grant;

    #[test]
    fn rules_stay_constant_while_sets_grow() {
        let grants: Vec<Grant> = (0..1000u32)
            .map(|i| Grant {
                source: IpAddr::from([10, 8, (i / 250) as u8, (i % 250 + 2) as u8]),
                destination: "10.240.0.0/24".parse().unwrap(),
                ports: if i % 2 == 0 {
                    Ports::All
                } else {
                    Ports::Tcp(vec![631, 22])
                },
            })
            .collect();
        let plane = DataPlane {
            egress: true,
            dns: vec![
                "1.1.1.1".parse().unwrap(),
                "2606:4700::1111".parse().unwrap(),
            ],
            grants,
        };
        let script = render("wg0", Some("eth0"), &plane);
        let rules = |s: &str| {
            s.lines()
                .filter(|l| l.contains(" accept") || l.trim() == "drop")
                .count()
        };
        let small = render(
            "wg0",
            Some("eth0"),
            &DataPlane {
                grants: plane.grants[..2].to_vec(),
                ..plane.clone()
            },
        );
        assert_eq!(rules(&script), rules(&small));
        assert!(script.contains("10.8.0.2 . 10.240.0.0/24,"));
        assert!(script.contains("10.8.0.3 . 10.240.0.0/24 . 22"));
        assert!(script.starts_with("table inet truevault {}\ndelete table inet truevault\n"));
        assert!(!render("wg0", Some("eth0"), &DataPlane::default()).contains("oifname \"eth0\""));
        assert!(!render("wg0", None, &plane).contains("masquerade"));
    }

    #[test]
    fn interface_names_are_checked_before_they_reach_a_script() {
        assert!(valid_interface_name("wg0"));
        assert!(valid_interface_name("enp0s31f6"));
        assert!(!valid_interface_name("wg0\" accept"));
        assert!(!valid_interface_name("a-very-long-interface"));
        assert!(!valid_interface_name(""));
    }
}
