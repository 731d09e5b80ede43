//! Snapshot proxy: fetches a camera's snapshot URL with its credentials
//! (HTTP basic or digest, whichever the camera asks for), size-limited.

use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use truevault_wire::gateway::{redact_url, MAX_SNAPSHOT_BYTES};
use url::Url;

use crate::GatewayError;

pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub content_type: String,
    pub data: Vec<u8>,
}

fn err(url: &Url, what: impl std::fmt::Display) -> GatewayError {
    GatewayError::Snapshot(format!("{}: {what}", redact_url(url.as_str())))
}

/// GET `url`; on 401 answers the camera's challenge once with `username`
/// and `password`. Credentials inside the URL are used when none are given.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    username: Option<&str>,
    password: Option<&str>,
    max_bytes: usize,
) -> Result<Snapshot, GatewayError> {
    let mut url = Url::parse(url).map_err(|e| GatewayError::Snapshot(format!("bad URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(&url, "not an http(s) URL"));
    }
    let url_user = crate::percent_decode(url.username());
    let url_pass = url.password().map(crate::percent_decode);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let user = username
        .map(str::to_string)
        .or((!url_user.is_empty()).then_some(url_user));
    let pass = password
        .map(str::to_string)
        .or(url_pass)
        .unwrap_or_default();
    let max_bytes = max_bytes.min(MAX_SNAPSHOT_BYTES);

    let send = |auth: Option<String>| {
        let mut req = client.get(url.clone()).timeout(SNAPSHOT_TIMEOUT);
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a);
        }
        req.send()
    };
    let mut resp = send(None).await.map_err(|e| err(&url, e))?;
    if resp.status() == StatusCode::UNAUTHORIZED {
        let Some(user) = user.as_deref() else {
            return Err(err(
                &url,
                "camera wants credentials and none are configured",
            ));
        };
        let challenges: Vec<String> = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let auth = if let Some(c) = challenges
            .iter()
            .find(|c| c.trim_start().to_ascii_lowercase().starts_with("digest"))
        {
            let mut prompt = digest_auth::parse(c)
                .map_err(|e| err(&url, format!("bad digest challenge: {e}")))?;
            let path = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            let ctx = digest_auth::AuthContext::new(user, pass.as_str(), path);
            prompt
                .respond(&ctx)
                .map_err(|e| err(&url, format!("digest: {e}")))?
                .to_header_string()
        } else {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            )
        };
        resp = send(Some(auth)).await.map_err(|e| err(&url, e))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(err(&url, "camera refused the credentials (HTTP 401)"));
        }
    }
    if !resp.status().is_success() {
        return Err(err(&url, format!("HTTP {}", resp.status())));
    }
    if resp
        .content_length()
        .is_some_and(|n| n as usize > max_bytes)
    {
        return Err(err(&url, format!("snapshot larger than {max_bytes} bytes")));
    }
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("image/jpeg")
        .to_string();
    if !content_type.starts_with("image/") {
        return Err(err(&url, format!("not an image ({content_type})")));
    }
    let mut data = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| err(&url, e))?;
        if data.len() + chunk.len() > max_bytes {
            return Err(err(&url, format!("snapshot larger than {max_bytes} bytes")));
        }
        data.extend_from_slice(&chunk);
    }
    if data.is_empty() {
        return Err(err(&url, "empty snapshot"));
    }
    Ok(Snapshot { content_type, data })
}
