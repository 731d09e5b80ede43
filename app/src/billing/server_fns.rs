//! Server functions: the public plan list and the admin's plan editor.

// A form's fields are a server function's arguments, so admin forms with
// many fields make functions with many arguments.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use super::model::Plan;
#[cfg(feature = "ssr")]
use {
    super::{model, repo},
    crate::{audit, error::AppError, sfn},
};

#[server(endpoint = "plans")]
pub async fn list_plans() -> Result<Vec<Plan>, ServerFnError> {
    Ok(repo::list(&sfn::state().db, true)
        .await
        .map_err(AppError::from)?)
}

#[server(endpoint = "admin/plans")]
pub async fn admin_plans() -> Result<Vec<Plan>, ServerFnError> {
    sfn::admin()?;
    Ok(repo::list(&sfn::state().db, false)
        .await
        .map_err(AppError::from)?)
}

/// Prices are entered in dollars with cents (`9.99`).
#[server(endpoint = "admin/plan_save")]
pub async fn admin_save_plan(
    id: i64,
    name: String,
    price_monthly: String,
    price_yearly: String,
    max_devices: i64,
    max_cameras: i64,
    max_identities: i64,
    max_mesh_members: i64,
    is_active: Option<String>,
) -> Result<String, ServerFnError> {
    let admin = sfn::admin()?;
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(AppError::Validation("A plan name is 1-60 characters.".into()).into());
    }
    let monthly = parse_price(&price_monthly)?;
    let yearly = parse_price(&price_yearly)?;
    let limits = [max_devices, max_cameras, max_identities, max_mesh_members];
    model::validate_limits(&limits).map_err(AppError::Validation)?;
    let state = sfn::state();
    let n = repo::update(
        &state.db,
        id,
        &name,
        monthly,
        yearly,
        limits,
        is_active.is_some(),
    )
    .await
    .map_err(AppError::from)?;
    if n == 0 {
        return Err(AppError::NotFound.into());
    }
    audit::record(
        &state.db,
        Some(admin.id),
        "plan.updated",
        &id.to_string(),
        "",
        &format!("{name} {monthly}/{yearly} {limits:?}"),
    )
    .await;
    Ok(format!("Saved plan {name}."))
}

#[cfg(feature = "ssr")]
fn parse_price(s: &str) -> Result<i64, ServerFnError> {
    let bad = || {
        ServerFnError::from(AppError::Validation(format!(
            "\"{}\" is not a price like 9.99.",
            s.chars().take(20).collect::<String>()
        )))
    };
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    if whole.is_empty()
        || whole.len() > 7
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    Ok(whole * 100 + frac)
}
