//! Asking a discovered camera about itself, with credentials, through
//! `oxvif` (WS-UsernameToken and HTTP digest, vendor quirks handled there).

use std::fmt;
use std::time::Duration;

use oxvif::OnvifClient;

use crate::error::{Result, ScanError};
use crate::txt::clean;

/// Camera credentials; `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub pass: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("pass", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CameraDetails {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    /// Profile names, main stream first as the camera lists them.
    pub profiles: Vec<String>,
    /// The first profile's RTSP URI as the camera reports it.
    pub stream_url: Option<String>,
}

/// Device information, profiles and the main stream URI of the camera at
/// `xaddr` (its device service URL from WS-Discovery).
pub async fn query(xaddr: &str, creds: &Credentials, limit: Duration) -> Result<CameraDetails> {
    let fail = |step: &str, e: oxvif::OnvifError| {
        ScanError::Io(std::io::Error::other(format!(
            "ONVIF {step} at {xaddr}: {e}"
        )))
    };
    let client = OnvifClient::new(xaddr).with_credentials(&creds.user, &creds.pass);
    let work = async {
        let info = client
            .get_device_info()
            .await
            .map_err(|e| fail("GetDeviceInformation", e))?;
        let caps = client
            .get_capabilities()
            .await
            .map_err(|e| fail("GetCapabilities", e))?;
        let mut details = CameraDetails {
            manufacturer: clean(&info.manufacturer),
            model: clean(&info.model),
            ..CameraDetails::default()
        };
        let Some(media) = caps.media.url else {
            return Ok(details);
        };
        let profiles = client
            .get_profiles(&media)
            .await
            .map_err(|e| fail("GetProfiles", e))?;
        details.profiles = profiles.iter().filter_map(|p| clean(&p.name)).collect();
        if let Some(main) = profiles.first() {
            let uri = client
                .get_stream_uri(&media, &main.token)
                .await
                .map_err(|e| fail("GetStreamUri", e))?;
            details.stream_url = clean(&uri.uri);
        }
        Ok(details)
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| ScanError::Io(std::io::Error::other(format!("ONVIF {xaddr}: timed out"))))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_not_in_debug() {
        let c = Credentials {
            user: "admin".into(),
            pass: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
