//! Server functions: users pick a published theme; admins create, edit,
//! preview, publish and activate themes.

use leptos::prelude::*;

use crate::error::AppError;

use super::model::{Theme, ThemeSummary};
#[cfg(feature = "ssr")]
use {
    super::{model, repo},
    crate::{audit, db::is_unique_violation, sfn},
};

/// Published themes and the one the user picked (if any).
#[server(endpoint = "themes/choices")]
pub async fn theme_choices() -> Result<(Vec<ThemeSummary>, Option<String>), AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    let themes = repo::list(&state.db)
        .await?
        .into_iter()
        .filter(|t| t.is_published)
        .collect();
    let chosen = crate::accounts::repo::get_setting(&state.db, user.id, "theme").await?;
    Ok((themes, chosen))
}

#[server(endpoint = "themes/choose")]
pub async fn choose_theme(slug: String) -> Result<(), AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    if slug.is_empty() {
        sqlx::query("DELETE FROM user_settings WHERE user_id = $1 AND key = 'theme'")
            .bind(user.id)
            .execute(&state.db.pool)
            .await?;
    } else {
        let published = repo::list(&state.db)
            .await?
            .into_iter()
            .any(|t| t.slug == slug && t.is_published);
        if !published {
            return Err(AppError::invalid_field(
                "slug",
                "That theme is not available.",
            ));
        }
        crate::accounts::repo::set_setting(&state.db, user.id, "theme", &slug).await?;
    }
    leptos_axum::redirect("/account");
    Ok(())
}

#[server(endpoint = "admin/themes")]
pub async fn admin_themes() -> Result<Vec<ThemeSummary>, AppError> {
    sfn::admin()?;
    Ok(repo::list(&sfn::state().db).await?)
}

#[server(endpoint = "admin/theme")]
pub async fn admin_theme(id: i64) -> Result<Theme, AppError> {
    sfn::admin()?;
    repo::get(&sfn::state().db, id)
        .await?
        .ok_or(AppError::NotFound)
}

#[server(endpoint = "admin/theme_create")]
pub async fn admin_create_theme(
    name: String,
    slug: String,
    copy_from: Option<i64>,
) -> Result<(), AppError> {
    let admin = sfn::admin()?;
    let name = model::validate_name(&name).map_err(AppError::invalid)?;
    model::validate_ident(&slug).map_err(|e| AppError::invalid(format!("Slug: {e}")))?;
    let state = sfn::state();
    let id = repo::create(&state.db, &name, &slug, copy_from)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                AppError::Conflict("A theme with that slug exists.".into())
            } else {
                AppError::from(e)
            }
        })?;
    audit::record(&state.db, Some(admin.id), "theme.created", &slug, "", "").await;
    leptos_axum::redirect(&format!("/admin/themes/{id}"));
    Ok(())
}

/// Sets one variable (adds it if new). Rejects anything that could escape
/// the CSS custom property.
#[server(endpoint = "admin/theme_set")]
pub async fn admin_set_theme_variable(
    theme_id: i64,
    category: String,
    name: String,
    value: String,
) -> Result<String, AppError> {
    let admin = sfn::admin()?;
    let var = model::ThemeVariable {
        category,
        name,
        value: value.trim().to_string(),
    };
    model::validate_variable(&var).map_err(AppError::invalid)?;
    let state = sfn::state();
    repo::get(&state.db, theme_id)
        .await?
        .ok_or(AppError::NotFound)?;
    repo::save_variables(&state.db, theme_id, std::slice::from_ref(&var)).await?;
    state.themes.invalidate();
    audit::record(
        &state.db,
        Some(admin.id),
        "theme.variable_set",
        &theme_id.to_string(),
        "",
        &format!("--{}-{}: {}", var.category, var.name, var.value),
    )
    .await;
    Ok(format!("Saved --{}-{}.", var.category, var.name))
}

#[server(endpoint = "admin/theme_activate")]
pub async fn admin_activate_theme(id: i64) -> Result<(), AppError> {
    let admin = sfn::admin()?;
    let state = sfn::state();
    if !repo::activate(&state.db, id).await? {
        return Err(AppError::NotFound);
    }
    state.themes.invalidate();
    audit::record(
        &state.db,
        Some(admin.id),
        "theme.activated",
        &id.to_string(),
        "",
        "",
    )
    .await;
    Ok(())
}

#[server(endpoint = "admin/theme_publish")]
pub async fn admin_publish_theme(id: i64, published: bool) -> Result<(), AppError> {
    let admin = sfn::admin()?;
    let state = sfn::state();
    if repo::set_published(&state.db, id, published).await? == 0 {
        return Err(AppError::invalid("The active theme stays published."));
    }
    state.themes.invalidate();
    audit::record(
        &state.db,
        Some(admin.id),
        "theme.published",
        &id.to_string(),
        "",
        &published.to_string(),
    )
    .await;
    Ok(())
}
