//! Theme storage.

use sqlx::Row;

use super::model::{Theme, ThemeSummary, ThemeVariable};
use crate::db::{now, Db};

const SUMMARY_COLS: &str = "id, name, slug, is_active, is_published";

pub async fn list(db: &Db) -> Result<Vec<ThemeSummary>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SUMMARY_COLS} FROM themes ORDER BY id"))
        .fetch_all(&db.pool)
        .await
}

pub async fn variables(db: &Db, theme_id: i64) -> Result<Vec<ThemeVariable>, sqlx::Error> {
    sqlx::query_as(
        "SELECT category, name, value FROM theme_variables WHERE theme_id = $1 ORDER BY sort_order, category, name",
    )
    .bind(theme_id)
    .fetch_all(&db.pool)
    .await
}

pub async fn get(db: &Db, theme_id: i64) -> Result<Option<Theme>, sqlx::Error> {
    let summary: Option<ThemeSummary> =
        sqlx::query_as(&format!("SELECT {SUMMARY_COLS} FROM themes WHERE id = $1"))
            .bind(theme_id)
            .fetch_optional(&db.pool)
            .await?;
    let Some(summary) = summary else {
        return Ok(None);
    };
    Ok(Some(Theme {
        summary,
        variables: variables(db, theme_id).await?,
    }))
}

/// The active theme, or with `slug` the published theme a user picked.
pub async fn find_for_render(db: &Db, slug: Option<&str>) -> Result<Option<Theme>, sqlx::Error> {
    let summary: Option<ThemeSummary> = match slug {
        Some(slug) => {
            sqlx::query_as(&format!(
                "SELECT {SUMMARY_COLS} FROM themes WHERE slug = $1 AND is_published = 1"
            ))
            .bind(slug)
            .fetch_optional(&db.pool)
            .await?
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {SUMMARY_COLS} FROM themes WHERE is_active = 1"
            ))
            .fetch_optional(&db.pool)
            .await?
        }
    };
    let Some(summary) = summary else {
        return Ok(None);
    };
    let variables = variables(db, summary.id).await?;
    Ok(Some(Theme { summary, variables }))
}

pub async fn create(
    db: &Db,
    name: &str,
    slug: &str,
    copy_from: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let t = now();
    let mut tx = db.pool.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO themes (name, slug, is_active, is_published, created_at, updated_at) \
         VALUES ($1, $2, 0, 0, $3, $3) RETURNING id",
    )
    .bind(name)
    .bind(slug)
    .bind(t)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    if let Some(src) = copy_from {
        sqlx::query(
            "INSERT INTO theme_variables (theme_id, category, name, value, sort_order) \
             SELECT $1, category, name, value, sort_order FROM theme_variables WHERE theme_id = $2",
        )
        .bind(id)
        .bind(src)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Upserts variables (already validated by the caller) in one transaction.
pub async fn save_variables(
    db: &Db,
    theme_id: i64,
    vars: &[ThemeVariable],
) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    for (i, v) in vars.iter().enumerate() {
        sqlx::query(
            "INSERT INTO theme_variables (theme_id, category, name, value, sort_order) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (theme_id, category, name) DO UPDATE SET value = excluded.value",
        )
        .bind(theme_id)
        .bind(&v.category)
        .bind(&v.name)
        .bind(v.value.trim())
        .bind(i as i64 + 1)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE themes SET updated_at = $1 WHERE id = $2")
        .bind(now())
        .bind(theme_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Makes one theme the active one (and published) atomically.
pub async fn activate(db: &Db, theme_id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE themes SET is_active = 0 WHERE is_active = 1 AND id <> $1")
        .bind(theme_id)
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query(
        "UPDATE themes SET is_active = 1, is_published = 1, updated_at = $1 WHERE id = $2",
    )
    .bind(now())
    .bind(theme_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 1 {
        tx.commit().await?;
        Ok(true)
    } else {
        tx.rollback().await?;
        Ok(false)
    }
}

pub async fn set_published(db: &Db, theme_id: i64, published: bool) -> Result<u64, sqlx::Error> {
    sqlx::query("UPDATE themes SET is_published = $1, updated_at = $2 WHERE id = $3 AND (is_active = 0 OR $1 = 1)")
        .bind(published as i64)
        .bind(now())
        .bind(theme_id)
        .execute(&db.pool)
        .await
        .map(|r| r.rows_affected())
}
