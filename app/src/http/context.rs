//! Per-request context: who is signed in, the theme to render, the CSP
//! nonce and the client's address. Computed once by a middleware and read
//! by pages and server functions from the request extensions.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::Response,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;

use super::cookies;
use crate::{
    accounts::{model::CurrentUser, repo, service::ClientInfo, tokens},
    db::now,
    state::AppState,
};

#[derive(Clone)]
pub struct RequestContext {
    pub user: Option<CurrentUser>,
    /// The raw session token from the cookie, when it maps to a live session.
    pub session_token: Option<String>,
    pub client: ClientInfo,
    pub theme_css: Arc<str>,
    pub nonce: String,
}

impl RequestContext {
    pub fn session_hash(&self) -> Option<String> {
        self.session_token.as_deref().map(tokens::hash_token)
    }
}

/// Touching `last_seen_at` on every request would turn reads into writes.
const TOUCH_EVERY: i64 = 300;

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // Static assets and agent APIs need no session or theme.
    if path.starts_with("/pkg/")
        || path.starts_with("/api/v1/")
        || path == "/health"
        || path == "/metrics"
    {
        return next.run(req).await;
    }
    let ip = req
        .extensions()
        .get::<super::client::ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let cookie_header = req
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let session_cookie = cookies::name(cookies::SESSION, state.config.secure_cookies());
    let token = cookies::get(cookie_header, &session_cookie)
        .filter(|t| tokens::looks_like_token(t))
        .map(String::from);

    let mut user = None;
    let mut session_token = None;
    let mut chosen_theme = None;
    if let Some(token) = token {
        let hash = tokens::hash_token(&token);
        match repo::session_user(&state.db, &hash).await {
            Ok(Some(live)) => {
                if now() - live.last_seen_at > TOUCH_EVERY {
                    let _ = repo::touch_session(&state.db, &hash).await;
                }
                user = Some(live.user);
                chosen_theme = live.theme;
                session_token = Some(token);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "session lookup failed"),
        }
    }
    let theme_css = state.themes.css(&state.db, chosen_theme.as_deref()).await;
    let mut nonce = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ctx = RequestContext {
        user,
        session_token,
        client: ClientInfo { ip, user_agent },
        theme_css,
        nonce: URL_SAFE_NO_PAD.encode(nonce),
    };
    req.extensions_mut().insert(ctx.clone());
    let mut res = next.run(req).await;
    super::security::apply_headers(res.headers_mut(), Some(&ctx.nonce));
    res
}
