//! Downloads and the CRL. The CRL is public (every certificate names its
//! URL, and relying parties fetch it without signing in); the root, a
//! certificate and its chain are for their owner only, and anyone else gets
//! the same 404 as for an id that does not exist.

use axum::{
    extract::{Path, State},
    http::{header, HeaderName},
    response::{IntoResponse, Response},
    routing::get,
    Extension, Router,
};

use super::{
    model::{CaId, CertId},
    service,
};
use crate::{error::AppError, http::context::RequestContext, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pki/{file}", get(crl))
        .route("/certificates/ca/{id}/{file}", get(root))
        .route("/certificates/download/{id}/{file}", get(cert))
}

fn refused(e: AppError) -> Response {
    (
        e.status(),
        [(HeaderName::from_static("x-error-code"), e.code())],
        e.public_message(),
    )
        .into_response()
}

fn pem_file(name: &str, body: String) -> Response {
    // Only characters safe in a quoted header value reach the file name.
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, "application/x-pem-file".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

async fn crl(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(slug) = file.strip_suffix(".crl").filter(|s| s.len() <= 64) else {
        return refused(AppError::NotFound);
    };
    match super::repo::crl_by_slug(&state.db, slug).await {
        Ok(Some(der)) => (
            [
                (header::CONTENT_TYPE, "application/pkix-crl"),
                // Re-signed at every revocation: clients should not hold it long.
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            der,
        )
            .into_response(),
        Ok(None) => refused(AppError::NotFound),
        Err(e) => refused(e.into()),
    }
}

async fn root(
    State(state): State<AppState>,
    ctx: Option<Extension<RequestContext>>,
    Path((id, file)): Path<(i64, String)>,
) -> Response {
    let Some(user) = ctx.and_then(|Extension(c)| c.user) else {
        return refused(AppError::Unauthenticated);
    };
    if file != "root.pem" {
        return refused(AppError::NotFound);
    }
    match service::ca_pem(&state.db, crate::typed::UserId(user.id), CaId(id)).await {
        Ok(pem) => pem_file("truevault-root.pem", pem),
        Err(e) => refused(e),
    }
}

async fn cert(
    State(state): State<AppState>,
    ctx: Option<Extension<RequestContext>>,
    Path((id, file)): Path<(i64, String)>,
) -> Response {
    let Some(user) = ctx.and_then(|Extension(c)| c.user) else {
        return refused(AppError::Unauthenticated);
    };
    let (cert, chain) =
        match service::cert_files(&state.db, crate::typed::UserId(user.id), CertId(id)).await {
            Ok(x) => x,
            Err(e) => return refused(e),
        };
    match file.as_str() {
        "cert.pem" => pem_file(&format!("{}.pem", cert.name), cert.cert_pem),
        "chain.pem" => pem_file(&format!("{}-chain.pem", cert.name), chain),
        _ => refused(AppError::NotFound),
    }
}
