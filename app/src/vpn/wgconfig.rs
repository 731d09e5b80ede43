//! wg-quick configuration files, rendered with askama.

use askama::Template;

#[derive(Template)]
#[template(path = "wg/device.conf", escape = "none")]
pub struct DeviceConfig<'a> {
    pub device_name: &'a str,
    pub server_name: &'a str,
    pub region: &'a str,
    pub private_key: &'a str,
    pub addresses: &'a str,
    pub dns: &'a str,
    pub server_public_key: &'a str,
    pub preshared_key: &'a str,
    pub endpoint: &'a str,
    /// `0.0.0.0/0, ::/0` (full tunnel) or the split-tunnel ranges.
    pub allowed_ips: &'a str,
}

/// `host:port`, bracketing IPv6 literals.
pub fn endpoint(host: &str, port: i64) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

pub use super::qr::qr_svg;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_wg_quick_file() {
        let text = DeviceConfig {
            device_name: "phone",
            server_name: "eu-1",
            region: "eu",
            private_key: "PRIV=",
            addresses: "10.8.0.2/32, fd00::2/128",
            dns: "10.8.0.1",
            server_public_key: "PUB=",
            preshared_key: "PSK=",
            endpoint: &endpoint("vpn.example.com", 51820),
            allowed_ips: "0.0.0.0/0, ::/0",
        }
        .render()
        .unwrap();
        assert!(text.contains(
            "[Interface]\nPrivateKey = PRIV=\nAddress = 10.8.0.2/32, fd00::2/128\nDNS = 10.8.0.1\n"
        ));
        assert!(text.contains("[Peer]\nPublicKey = PUB=\nPresharedKey = PSK=\nEndpoint = vpn.example.com:51820\nAllowedIPs = 0.0.0.0/0, ::/0\nPersistentKeepalive = 25"));
        assert_eq!(endpoint("2001:db8::1", 51820), "[2001:db8::1]:51820");
        assert!(qr_svg(&text).unwrap().starts_with("<svg"));
    }
}

/// Every user- or admin-supplied field that reaches a wg-quick file, with
/// any text the form rules accept: the file keeps its shape (one
/// `[Interface]`, one `[Peer]`, each directive once, names only in the
/// comment) and its name is one wg-quick takes. 256 cases by default;
/// `PROPTEST_CASES=100000` for a long run.
#[cfg(test)]
mod prop_tests {
    use super::*;
    use crate::vpn::model::{config_file_name, normalize_device_name};
    use proptest::prelude::*;

    /// Text as people (and attackers) type it: any characters, with line
    /// breaks, `[`, `=` and `#` made likely.
    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                any::<char>(),
                Just('\n'),
                Just('\r'),
                Just('\u{2028}'),
                Just('\u{85}'),
                Just('['),
                Just('='),
                Just('#'),
                Just(' '),
            ],
            0..70,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn accepted_names_never_change_the_files_shape(name in text(), server in text(), region in text()) {
            // The server's name and region come from the admin form, which
            // applies the same one-line rule.
            let one_line = |s: &str| !s.chars().any(crate::vpn::model::breaks_lines);
            let Ok(device) = normalize_device_name(&name) else { return Ok(()) };
            prop_assume!(one_line(&server) && one_line(&region));
            let text = DeviceConfig {
                device_name: &device,
                server_name: &server,
                region: &region,
                private_key: "PRIV=",
                addresses: "10.8.0.2/32",
                dns: "10.8.0.1",
                server_public_key: "PUB=",
                preshared_key: "PSK=",
                endpoint: &endpoint("vpn.example.com", 51820),
                allowed_ips: "0.0.0.0/0, ::/0",
            }
            .render()
            .unwrap();
            // wg-quick and the apps split on these; only the ones we wrote may be there.
            let lines: Vec<&str> = text.split(['\n', '\r', '\u{2028}', '\u{2029}', '\u{85}']).collect();
            prop_assert!(lines[0].starts_with("# TrueVault — "));
            prop_assert!(lines[0].contains(device.as_str()));
            let mut directives: Vec<&str> = Vec::new();
            for line in &lines[1..] {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                prop_assert!(!line.starts_with('#'), "a second comment line: {line:?}");
                if line.starts_with('[') {
                    directives.push(line);
                    continue;
                }
                let (key, _) = line.split_once(" = ").expect("key = value");
                directives.push(key);
            }
            prop_assert_eq!(
                directives,
                vec!["[Interface]", "PrivateKey", "Address", "DNS", "[Peer]", "PublicKey", "PresharedKey", "Endpoint", "AllowedIPs", "PersistentKeepalive"]
            );
            let file = config_file_name(&device);
            let stem = file.strip_suffix(".conf").expect(".conf");
            prop_assert!(!stem.is_empty() && stem.len() <= 15, "{file}");
            prop_assert!(stem.bytes().all(|b| b.is_ascii_alphanumeric() || b"_=+.-".contains(&b)), "{file}");
        }
    }
}
