//! Server functions: what a coming plan change keeps, and the choice to
//! keep one item.

use leptos::prelude::*;

use super::model::{KeepForm, KeepPreview};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use {super::model::KeepChoice, super::service, crate::sfn};

/// What the coming plan change keeps and pauses (`None`: nothing to choose).
#[server(endpoint = "plan/keep_preview")]
pub async fn plan_keep_preview() -> Result<Option<KeepPreview>, AppError> {
    let user = sfn::user()?;
    service::preview(&sfn::state().db, user.id).await
}

/// Keep this device, identity or camera (before another) under the plan.
#[server(endpoint = "plan/keep")]
pub async fn keep_on_plan(#[server(flatten)] form: KeepForm) -> Result<(), AppError> {
    let user = sfn::user()?;
    let choice = KeepChoice::try_from(form)?;
    service::keep(&sfn::state(), user.id, choice).await
}
