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
        assert!(qr_svg(&text).unwrap().starts_with("<?xml"));
    }
}
