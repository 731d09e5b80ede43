//! Asking an ONVIF camera for its stream and snapshot URLs (GetCapabilities
//! → media service, GetProfiles, GetStreamUri, GetSnapshotUri) through
//! `oxvif`, which does the WS-UsernameToken and HTTP digest and the vendor
//! quirks. The portal asks when a generic ONVIF camera is added without
//! URLs; the camera is on the home network, so only the gateway reaches it.

use std::time::Duration;

use oxvif::OnvifClient;
use truevault_wire::gateway::OnvifLogin;
use url::Url;

use crate::GatewayError;

pub const ONVIF_TIMEOUT: Duration = Duration::from_secs(15);

/// What the camera said, credentials stripped from the URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnvifStreams {
    pub main_stream_url: String,
    pub sub_stream_url: Option<String>,
    pub snapshot_url: Option<String>,
}

fn err(step: &str, e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Onvif(format!("{step}: {e}"))
}

/// Cameras put the user into the URIs they hand out, and some answer with
/// `127.0.0.1` or an address of another interface: credentials are
/// dropped (they travel separately) and a loopback or unspecified host is
/// replaced by the host the camera was reached at.
pub fn clean_uri(raw: &str, reached_at: &Url, schemes: &[&str]) -> Option<String> {
    let mut url = Url::parse(raw.trim()).ok()?;
    if !schemes.contains(&url.scheme()) {
        return None;
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    // rtsp:// is not a "special" scheme to the URL standard: its host is
    // opaque text, so an address is recognised by parsing it here.
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let local = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip.is_unspecified(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    if local {
        url.set_host(reached_at.host_str()).ok()?;
    }
    Some(url.to_string())
}

/// Asks the device service at `device_url`. The first profile is the main
/// stream (cameras list it first); the next one with a different URI is the
/// sub stream.
pub async fn probe(
    device_url: &str,
    login: Option<&OnvifLogin>,
) -> Result<OnvifStreams, GatewayError> {
    let reached_at = Url::parse(device_url).map_err(|e| err("device URL", e))?;
    if !matches!(reached_at.scheme(), "http" | "https") || reached_at.host_str().is_none() {
        return Err(GatewayError::Onvif(
            "the device URL must be http(s)://host/…".into(),
        ));
    }
    let mut client = OnvifClient::new(device_url);
    if let Some(l) = login {
        client = client.with_credentials(&l.username, &l.password);
    }
    let work = async {
        let caps = client
            .get_capabilities()
            .await
            .map_err(|e| err("GetCapabilities", e))?;
        let media = caps.media.url.unwrap_or_else(|| device_url.to_string());
        let profiles = client
            .get_profiles(&media)
            .await
            .map_err(|e| err("GetProfiles", e))?;
        let main = profiles
            .first()
            .ok_or_else(|| GatewayError::Onvif("the camera lists no media profiles".into()))?;
        let main_uri = client
            .get_stream_uri(&media, &main.token)
            .await
            .map_err(|e| err("GetStreamUri", e))?;
        let main_stream_url = clean_uri(&main_uri.uri, &reached_at, &["rtsp", "rtsps"])
            .ok_or_else(|| {
                GatewayError::Onvif(format!(
                    "GetStreamUri gave no RTSP URI ({})",
                    truevault_wire::gateway::redact_url(&main_uri.uri)
                ))
            })?;
        let mut sub_stream_url = None;
        for p in profiles.iter().skip(1).take(4) {
            if let Ok(u) = client.get_stream_uri(&media, &p.token).await {
                if let Some(u) = clean_uri(&u.uri, &reached_at, &["rtsp", "rtsps"]) {
                    if u != main_stream_url {
                        sub_stream_url = Some(u);
                        break;
                    }
                }
            }
        }
        // Not every camera has snapshots: their absence is not a failure.
        let snapshot_url = match client.get_snapshot_uri(&media, &main.token).await {
            Ok(s) => clean_uri(&s.uri, &reached_at, &["http", "https"]),
            Err(e) => {
                tracing::info!(error = %e, "camera gave no snapshot URI");
                None
            }
        };
        Ok(OnvifStreams {
            main_stream_url,
            sub_stream_url,
            snapshot_url,
        })
    };
    tokio::time::timeout(ONVIF_TIMEOUT, work)
        .await
        .map_err(|_| GatewayError::Timeout(format!("ONVIF: no answer in {ONVIF_TIMEOUT:?}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_lose_credentials_and_loopback_hosts() {
        let at = Url::parse("http://192.168.1.40:8080/onvif/device_service").unwrap();
        assert_eq!(
            clean_uri("rtsp://admin:pw@127.0.0.1:554/main", &at, &["rtsp"]).as_deref(),
            Some("rtsp://192.168.1.40:554/main")
        );
        assert_eq!(
            clean_uri("rtsp://10.0.0.9/sub", &at, &["rtsp"]).as_deref(),
            Some("rtsp://10.0.0.9/sub")
        );
        assert_eq!(clean_uri("http://10.0.0.9/x.jpg", &at, &["rtsp"]), None);
        assert_eq!(clean_uri("not a url", &at, &["rtsp"]), None);
    }
}
