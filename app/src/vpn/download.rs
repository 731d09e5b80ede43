//! `POST /devices/download`: adding a device without JavaScript. The server
//! makes the key pair and answers with the config file itself, so the
//! private key is downloaded once and never stored or shown again.

use axum::{
    extract::{Form, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use serde::Deserialize;

use super::devices::{self, NewDevice};
use crate::{http::context::RequestContext, state::AppState};

#[derive(Deserialize)]
pub struct DownloadForm {
    name: String,
    #[serde(default)]
    region: String,
}

pub async fn handler(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Form(form): Form<DownloadForm>,
) -> Response {
    let Some(user) = ctx.user else {
        return (StatusCode::UNAUTHORIZED, "Please sign in first.").into_response();
    };
    if form.name.chars().count() > 64 || form.region.chars().count() > 32 {
        return (StatusCode::BAD_REQUEST, "Name or region too long.").into_response();
    }
    let input = NewDevice {
        name: form.name,
        public_key: None,
        server_id: None,
        region: Some(form.region.trim().to_lowercase()).filter(|r| !r.is_empty()),
        identity_region: None,
        tunnel_mode: Default::default(),
    };
    match devices::create_device(&state, &user, input).await {
        Ok(created) => (
            [
                (
                    header::CONTENT_TYPE,
                    "text/plain; charset=utf-8".to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", created.file_name),
                ),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            created.config,
        )
            .into_response(),
        Err(e) => (e.status(), e.public_message()).into_response(),
    }
}
