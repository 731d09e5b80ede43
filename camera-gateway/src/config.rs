//! Command line and config file.

use std::path::PathBuf;

use clap::Parser;
use serde::Deserialize;
use url::Url;

use crate::GatewayError;

#[derive(Debug, Parser)]
#[command(
    name = "truevault-gateway",
    version,
    about = "TrueVault camera gateway"
)]
pub struct Cli {
    /// The portal's base URL (https://…, or its address inside the WireGuard tunnel).
    #[arg(long)]
    pub portal: Option<String>,
    /// The gateway token from the dashboard.
    #[arg(long, env = "TRUEVAULT_GATEWAY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A TOML file with `portal = "…"` and `token = "…"`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Accept an `http://` portal that is not on loopback (e.g. its address
    /// inside the WireGuard tunnel, which encrypts it). Without it the token
    /// and camera passwords would cross the network in clear, so it is refused.
    #[arg(long)]
    pub allow_http: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    portal: Option<String>,
    token: Option<String>,
}

/// What the gateway needs to run. `Debug` leaves the token out.
#[derive(Clone)]
pub struct Settings {
    pub tunnel_url: Url,
    pub token: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("tunnel_url", &self.tunnel_url.as_str())
            .field("token", &"<redacted>")
            .finish()
    }
}

/// `https://portal` → `wss://portal/api/v1/gateways/tunnel`.
pub fn tunnel_url(portal: &str) -> Result<Url, GatewayError> {
    let mut url =
        Url::parse(portal.trim()).map_err(|e| GatewayError::Config(format!("portal URL: {e}")))?;
    let scheme = match url.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => {
            return Err(GatewayError::Config(format!(
                "portal URL scheme {other} is not http(s)"
            )))
        }
    };
    url.set_scheme(scheme)
        .map_err(|_| GatewayError::Config("portal URL scheme".into()))?;
    let base = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{base}{}", truevault_wire::gateway::TUNNEL_PATH));
    url.set_query(None);
    Ok(url)
}

/// Plain `ws://` only to loopback or when `--allow-http` says the network
/// is trusted (the scanner has the same rule).
pub fn check_transport(url: &Url, allow_http: bool) -> Result<(), GatewayError> {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() == "ws" && !loopback && !allow_http {
        return Err(GatewayError::Config(
            "--portal over plain http would send the token and camera passwords in clear; \
             use https (or --allow-http on a trusted network such as the WireGuard tunnel)"
                .into(),
        ));
    }
    Ok(())
}

impl Settings {
    /// Flags win over the file.
    pub fn from_cli(cli: &Cli) -> Result<Self, GatewayError> {
        let file = match &cli.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| GatewayError::Config(format!("{}: {e}", path.display())))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| GatewayError::Config(format!("{}: {e}", path.display())))?
            }
            None => FileConfig::default(),
        };
        let portal = cli.portal.clone().or(file.portal).ok_or_else(|| {
            GatewayError::Config("no portal URL (--portal or the config file)".into())
        })?;
        let token = cli
            .token
            .clone()
            .or(file.token)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                GatewayError::Config(
                    "no token (--token, TRUEVAULT_GATEWAY_TOKEN or the config file)".into(),
                )
            })?;
        let tunnel_url = tunnel_url(&portal)?;
        check_transport(&tunnel_url, cli.allow_http)?;
        Ok(Self { tunnel_url, token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        let remote = tunnel_url("http://10.8.0.1:3000/").unwrap();
        assert!(check_transport(&remote, false).is_err());
        assert!(check_transport(&remote, true).is_ok());
        for ok in [
            "http://127.0.0.1:3000",
            "http://localhost:3000",
            "http://[::1]:3000",
            "https://portal.example",
        ] {
            assert!(
                check_transport(&tunnel_url(ok).unwrap(), false).is_ok(),
                "{ok}"
            );
        }
        let cli = Cli::parse_from([
            "truevault-gateway",
            "--portal",
            "http://portal.example",
            "--token",
            "t",
        ]);
        assert!(
            Settings::from_cli(&cli).is_err(),
            "the binary refuses it too"
        );
    }

    #[test]
    fn builds_tunnel_url() {
        assert_eq!(
            tunnel_url("https://portal.example").unwrap().as_str(),
            "wss://portal.example/api/v1/gateways/tunnel"
        );
        assert_eq!(
            tunnel_url("http://10.8.0.1:3000/").unwrap().as_str(),
            "ws://10.8.0.1:3000/api/v1/gateways/tunnel"
        );
        assert!(tunnel_url("ftp://x").is_err());
    }

    #[test]
    fn config_file_and_flags() {
        let dir = std::env::temp_dir().join(format!("tvgw-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gw.toml");
        std::fs::write(
            &path,
            "portal = \"https://p.example\"\ntoken = \"tok-file\"\n",
        )
        .unwrap();
        let cli = Cli {
            portal: None,
            token: None,
            config: Some(path.clone()),
            allow_http: false,
        };
        let s = Settings::from_cli(&cli).unwrap();
        assert_eq!(s.token, "tok-file");
        assert!(!format!("{s:?}").contains("tok-file"));
        let cli = Cli {
            portal: None,
            token: Some("tok-flag".into()),
            config: Some(path),
            allow_http: false,
        };
        assert_eq!(Settings::from_cli(&cli).unwrap().token, "tok-flag");
        let cli = Cli {
            portal: Some("https://p".into()),
            token: None,
            config: None,
            allow_http: false,
        };
        assert!(matches!(
            Settings::from_cli(&cli),
            Err(GatewayError::Config(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
