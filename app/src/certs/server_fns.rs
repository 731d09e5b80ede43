//! Server functions: the certificates page, issue, renew, revoke. The issue
//! form is one argument (`form[...]` fields) validated by its `TryFrom`.

use leptos::prelude::*;

use super::{
    model::{CertsPage, Issued},
    rules::CertForm,
};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use {
    super::{model::CertId, rules::ValidCert, service},
    crate::{sfn, state::AppState},
};

/// What the certificate flows take from the app state.
#[cfg(feature = "ssr")]
pub fn pki(state: &AppState) -> service::Pki<'_> {
    service::Pki {
        db: &state.db,
        keys: &state.keys,
        clock: &state.clock,
        public_url: state.config.public_url_trimmed(),
    }
}

#[server(endpoint = "certs/overview")]
pub async fn certs_overview() -> Result<CertsPage, AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::overview(&pki(&state), &user).await
}

/// Refused with CERTS_NOT_IN_PLAN on plans without personal certificates.
#[server(endpoint = "certs/issue")]
pub async fn issue_cert(form: CertForm) -> Result<Issued, AppError> {
    let user = sfn::user()?;
    let valid = ValidCert::try_from(form)?;
    let state = sfn::state();
    service::issue(&pki(&state), &user, valid).await
}

#[server(endpoint = "certs/renew")]
pub async fn renew_cert(id: i64) -> Result<Issued, AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::renew(&pki(&state), &user, CertId(id)).await
}

#[server(endpoint = "certs/revoke")]
pub async fn revoke_cert(id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::revoke(&pki(&state), &user, CertId(id)).await
}
