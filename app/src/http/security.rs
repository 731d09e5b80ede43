//! CSRF protection and security headers.
//!
//! Leptos server functions do no CSRF check of their own, so every
//! state-changing request (anything but GET/HEAD/OPTIONS) outside the
//! bearer-token API must come from our own origin: its `Origin` header must
//! be `public_url` (or one of `allowed_origins`), or, without one,
//! `Sec-Fetch-Site` must say same-origin. The request's `Host` is never
//! trusted: anyone can send any Host.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::state::AppState;

pub async fn csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let exempt = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || req.uri().path().starts_with("/api/v1/");
    if exempt || same_origin(req.headers(), &state.config) {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "refused cross-origin state-changing request");
    let mut res = (
        StatusCode::FORBIDDEN,
        "Cross-site request refused: this form must be sent from the TrueVault site itself.",
    )
        .into_response();
    apply_headers(res.headers_mut(), None);
    res
}

/// True when the request provably comes from a page of ours.
pub fn same_origin(headers: &HeaderMap, config: &crate::config::Config) -> bool {
    origin_allowed(
        headers,
        config.public_url_trimmed(),
        &config.allowed_origins,
    )
}

fn origin_allowed(headers: &HeaderMap, public: &str, allowed: &[String]) -> bool {
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) => {
            origin.eq_ignore_ascii_case(public)
                || allowed
                    .iter()
                    .any(|a| origin.eq_ignore_ascii_case(a.trim_end_matches('/')))
        }
        None => headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "same-origin"),
    }
}

/// CSP that allows only our own scripts (plus the nonce'd inline bootstrap
/// and wasm compilation), no framing, no sniffing, no referrer leaks.
pub fn apply_headers(h: &mut HeaderMap, nonce: Option<&str>) {
    let csp = match nonce {
        Some(n) => format!(
            "default-src 'self'; script-src 'self' 'nonce-{n}' 'wasm-unsafe-eval'; style-src 'self' 'nonce-{n}'; \
             img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; \
             object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
        ),
        None => "default-src 'none'; frame-ancestors 'none'".to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
}

/// Headers for responses the context middleware does not see (assets, API),
/// and HSTS on every answer when users reach us over https.
pub async fn baseline_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if state.config.secure_cookies() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("strict-origin-when-cross-origin"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("v"),
            );
        }
        h
    }

    fn same_origin(h: &HeaderMap, public: &str) -> bool {
        origin_allowed(h, public, &["https://admin.example.com/".to_string()])
    }

    #[test]
    fn origin_rules() {
        let public = "https://vpn.example.com";
        assert!(same_origin(
            &headers(&[("origin", "https://vpn.example.com")]),
            public
        ));
        assert!(
            same_origin(&headers(&[("origin", "https://admin.example.com")]), public),
            "an explicitly allowed origin"
        );
        assert!(
            !same_origin(
                &headers(&[("host", "evil.example"), ("origin", "http://evil.example")]),
                public
            ),
            "a Host header matching the Origin proves nothing"
        );
        assert!(!same_origin(
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000")
            ]),
            public
        ));
        assert!(!same_origin(
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://evil.example")
            ]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("host", "127.0.0.1:3000"), ("origin", "null")]),
            public
        ));
        assert!(same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            public
        ));
        assert!(!same_origin(&headers(&[]), public));
    }
}
