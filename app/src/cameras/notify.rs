//! E-mail about camera events: each owner's preferences (kinds, every
//! camera or picked ones, quiet hours in UTC), and at most one mail per
//! camera per [`MAIL_GAP_SECS`], claimed in the database so several portal
//! instances share the limit.

use sqlx::Row;

use super::model::{CameraEventKind, NotifyCamera, NotifyPrefs, ValidNotify};
use crate::{
    db::Db,
    error::AppResult,
    mail::templates::{CameraEventMail, Mail},
    state::AppState,
};

/// The least time between two mails about one camera.
pub const MAIL_GAP_SECS: i64 = 600;

/// What became of one event's notification (tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Sent,
    /// The owner did not ask for this kind or camera (or has no settings).
    NotWanted,
    Quiet,
    /// A mail about this camera went out less than 10 minutes ago.
    RateLimited,
    Failed,
}

pub async fn prefs(db: &Db, user_id: i64) -> AppResult<NotifyPrefs> {
    let row = sqlx::query(
        "SELECT all_cameras, quiet_from, quiet_to FROM camera_notify_prefs WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM camera_notify_kinds WHERE user_id = $1 ORDER BY kind")
            .bind(user_id)
            .fetch_all(&db.pool)
            .await?;
    let cameras = sqlx::query(
        "SELECT c.id, c.name, (SELECT COUNT(*) FROM camera_notify_cameras n \
           WHERE n.user_id = c.user_id AND n.camera_id = c.id) AS chosen \
         FROM cameras c WHERE c.user_id = $1 ORDER BY c.id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let mut kinds: Vec<CameraEventKind> = kinds
        .iter()
        .filter_map(|k| CameraEventKind::parse(k))
        .collect();
    kinds.sort_by_key(|k| CameraEventKind::ALL.iter().position(|a| a == k));
    let (all_cameras, quiet) = match row {
        None => (true, None),
        Some(r) => {
            let all: i64 = r.try_get("all_cameras")?;
            let from: Option<i64> = r.try_get("quiet_from")?;
            let to: Option<i64> = r.try_get("quiet_to")?;
            let quiet = match (from, to) {
                (Some(f), Some(t)) => Some((f as u16, t as u16)),
                _ => None,
            };
            (all != 0, quiet)
        }
    };
    Ok(NotifyPrefs {
        kinds,
        all_cameras,
        cameras: cameras
            .iter()
            .map(|r| {
                Ok(NotifyCamera {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    chosen: r.try_get::<i64, _>("chosen")? > 0,
                })
            })
            .collect::<sqlx::Result<_>>()?,
        quiet,
    })
}

pub async fn save(db: &Db, user_id: i64, v: &ValidNotify) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO camera_notify_prefs (user_id, all_cameras, quiet_from, quiet_to) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET all_cameras = excluded.all_cameras, \
           quiet_from = excluded.quiet_from, quiet_to = excluded.quiet_to",
    )
    .bind(user_id)
    .bind(i64::from(v.all_cameras))
    .bind(v.quiet.map(|q| i64::from(q.0)))
    .bind(v.quiet.map(|q| i64::from(q.1)))
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM camera_notify_kinds WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    for k in &v.kinds {
        sqlx::query("INSERT INTO camera_notify_kinds (user_id, kind) VALUES ($1, $2)")
            .bind(user_id)
            .bind(k.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Picks (or unpicks) one of the user's own cameras; false when it is not theirs.
pub async fn choose(db: &Db, user_id: i64, camera_id: i64, on: bool) -> AppResult<bool> {
    let owned: Option<i64> =
        sqlx::query_scalar("SELECT id FROM cameras WHERE id = $1 AND user_id = $2")
            .bind(camera_id)
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    if owned.is_none() {
        return Ok(false);
    }
    let sql = if on {
        "INSERT INTO camera_notify_cameras (user_id, camera_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM camera_notify_cameras WHERE user_id = $1 AND camera_id = $2"
    };
    sqlx::query(sql)
        .bind(user_id)
        .bind(camera_id)
        .execute(&db.pool)
        .await?;
    Ok(true)
}

/// Takes the camera's mail slot if the last mail is at least
/// [`MAIL_GAP_SECS`] old: one statement, so two instances cannot both take it.
async fn claim_slot(db: &Db, camera_id: i64, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO camera_notify_sent (camera_id, last_at) VALUES ($1, $2) \
         ON CONFLICT (camera_id) DO UPDATE SET last_at = excluded.last_at \
         WHERE camera_notify_sent.last_at <= $3",
    )
    .bind(camera_id)
    .bind(now)
    .bind(now - MAIL_GAP_SECS)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Mails the camera's owner about an event if their settings ask for it.
pub async fn after_event(state: &AppState, camera_id: i64, kind: CameraEventKind) -> Decision {
    let decision = match decide_and_send(state, camera_id, kind).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(camera = camera_id, error = %e, "camera event mail");
            Decision::Failed
        }
    };
    tracing::debug!(
        camera = camera_id,
        kind = kind.as_str(),
        ?decision,
        "camera event mail"
    );
    state.cameras.count_notify(camera_id);
    decision
}

async fn decide_and_send(
    state: &AppState,
    camera_id: i64,
    kind: CameraEventKind,
) -> AppResult<Decision> {
    let Some(row) = sqlx::query("SELECT user_id, name FROM cameras WHERE id = $1")
        .bind(camera_id)
        .fetch_optional(&state.db.pool)
        .await?
    else {
        return Ok(Decision::NotWanted);
    };
    let (owner, camera): (i64, String) = (row.try_get("user_id")?, row.try_get("name")?);
    let p = prefs(&state.db, owner).await?;
    let picked = p.all_cameras || p.cameras.iter().any(|c| c.id == camera_id && c.chosen);
    if !p.kinds.contains(&kind) || !picked {
        return Ok(Decision::NotWanted);
    }
    let now = state.clock.now();
    let minute = (now.rem_euclid(86_400) / 60) as u16;
    if NotifyPrefs::is_quiet(p.quiet, minute) {
        return Ok(Decision::Quiet);
    }
    if !claim_slot(&state.db, camera_id, now).await? {
        return Ok(Decision::RateLimited);
    }
    let Some(user) = crate::accounts::repo::find_by_id(&state.db, owner).await? else {
        return Ok(Decision::NotWanted);
    };
    let base = &state.config.public_url;
    let mail = Mail::CameraEvent(CameraEventMail {
        first_name: user.first_name.clone(),
        what: kind.label(),
        camera,
        when: crate::ui::components::notice::format_time(now),
        link: format!("{base}/cameras/{camera_id}"),
        settings: format!("{base}/camera-events"),
        support: state.config.support_email.clone(),
    });
    Ok(match state.mailer.send_checked(&user.email, mail).await {
        Ok(()) => Decision::Sent,
        Err(_) => Decision::Failed,
    })
}
