//! The scheduler: workflow steps persisted with their due time, claimed by
//! background workers, retried with backoff, and ended as done or failed.
//!
//! A claim is one `UPDATE … RETURNING` that flips due rows to `running`. On
//! PostgreSQL the rows are chosen `FOR UPDATE SKIP LOCKED`, so several portal
//! instances never claim the same step; SQLite has a single writer. A step
//! whose worker died (still `running` after [`STALE_AFTER`]) is claimed again.

use std::time::Duration;

use sqlx::{Any, Row, Transaction};

use crate::{
    billing::{model::JobRow, rules},
    db::Engine,
    state::AppState,
};

/// A running step untouched for this long is presumed abandoned.
pub const STALE_AFTER: i64 = 300;
/// Steps claimed per round trip.
const BATCH: i64 = 64;

#[derive(Debug, Clone)]
pub struct NewJob {
    pub workflow: &'static str,
    pub step: String,
    pub user_id: Option<i64>,
    pub subscription_id: Option<i64>,
    pub due_at: i64,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub workflow: String,
    pub step: String,
    pub user_id: Option<i64>,
    pub subscription_id: Option<i64>,
    pub due_at: i64,
    /// Including this one.
    pub attempts: i64,
}

pub async fn schedule_in(
    tx: &mut Transaction<'static, Any>,
    jobs: &[NewJob],
    now: i64,
) -> sqlx::Result<()> {
    for j in jobs {
        sqlx::query(
            "INSERT INTO jobs (workflow, step, user_id, subscription_id, due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(j.workflow)
        .bind(&j.step)
        .bind(j.user_id)
        .bind(j.subscription_id)
        .bind(j.due_at)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Cancels a subscription's pending steps of one workflow (a payment that
/// arrives ends the dunning; a resumed plan ends the expiry notices).
pub async fn cancel_pending_in(
    tx: &mut Transaction<'static, Any>,
    subscription_id: i64,
    workflow: &str,
    now: i64,
) -> sqlx::Result<u64> {
    sqlx::query(
        "UPDATE jobs SET status = 'cancelled', finished_at = $1 WHERE subscription_id = $2 AND workflow = $3 AND status = 'pending'",
    )
    .bind(now)
    .bind(subscription_id)
    .bind(workflow)
    .execute(&mut **tx)
    .await
    .map(|r| r.rows_affected())
}

/// Claims up to `limit` due steps for `worker`.
pub async fn claim(state: &AppState, worker: &str, limit: i64) -> sqlx::Result<Vec<Job>> {
    let now = state.clock.now();
    let lock = match state.db.engine {
        Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_at = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM jobs WHERE (status = 'pending' AND due_at <= $2) \
                      OR (status = 'running' AND locked_at < $3) ORDER BY due_at, id LIMIT $4 {lock}) \
         RETURNING id, workflow, step, user_id, subscription_id, due_at, attempts"
    );
    let mut tx = state.db.begin_write().await?;
    let rows = sqlx::query(&sql)
        .bind(worker)
        .bind(now)
        .bind(now - STALE_AFTER)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut jobs = rows
        .iter()
        .map(|r| {
            Ok(Job {
                id: r.try_get("id")?,
                workflow: r.try_get("workflow")?,
                step: r.try_get("step")?,
                user_id: r.try_get("user_id")?,
                subscription_id: r.try_get("subscription_id")?,
                due_at: r.try_get("due_at")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    jobs.sort_by_key(|j| (j.due_at, j.id));
    Ok(jobs)
}

/// Records a step's outcome: done, retried later, or failed for good.
pub async fn finish(state: &AppState, job: &Job, result: Result<(), String>) -> sqlx::Result<()> {
    let now = state.clock.now();
    let q = match &result {
        Ok(()) => sqlx::query(
            "UPDATE jobs SET status = 'done', finished_at = $1, last_error = NULL, locked_by = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(job.id),
        Err(e) if job.attempts < rules::MAX_ATTEMPTS => sqlx::query(
            "UPDATE jobs SET status = 'pending', due_at = $1, last_error = $2, locked_by = NULL WHERE id = $3",
        )
        .bind(now + rules::retry_delay(job.attempts - 1))
        .bind(e.chars().take(1000).collect::<String>())
        .bind(job.id),
        Err(e) => sqlx::query(
            "UPDATE jobs SET status = 'failed', finished_at = $1, last_error = $2, locked_by = NULL WHERE id = $3",
        )
        .bind(now)
        .bind(e.chars().take(1000).collect::<String>())
        .bind(job.id),
    };
    q.execute(&state.db.pool).await.map(|_| ())
}

/// Runs every step due now; returns how many ran.
pub async fn run_due(state: &AppState, worker: &str) -> sqlx::Result<usize> {
    let mut ran = 0;
    loop {
        let batch = claim(state, worker, BATCH).await?;
        if batch.is_empty() {
            return Ok(ran);
        }
        for job in &batch {
            let result = crate::billing::workflows::run_step(state, job).await;
            if let Err(e) = &result {
                tracing::warn!(job = job.id, workflow = %job.workflow, step = %job.step, attempt = job.attempts, error = %e, "step failed");
            }
            finish(state, job, result).await?;
            ran += 1;
        }
    }
}

/// The background worker: runs due steps, then waits for a new step or a
/// second, whichever comes first.
pub fn spawn_worker(state: AppState) {
    let worker = format!("{}-{}", std::process::id(), crate::api::request_id());
    tokio::spawn(async move {
        loop {
            let wake = state.jobs_changed.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            if let Err(e) = run_due(&state, &worker).await {
                tracing::warn!(error = %e, "scheduler round failed");
            }
            tokio::select! {
                _ = &mut wake => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
}

/// Puts a failed step back in the queue, due now (admin action).
pub async fn retry(state: &AppState, id: i64) -> sqlx::Result<bool> {
    let res = sqlx::query(
        "UPDATE jobs SET status = 'pending', due_at = $1, attempts = 0, finished_at = NULL WHERE id = $2 AND status = 'failed'",
    )
    .bind(state.clock.now())
    .bind(id)
    .execute(&state.db.pool)
    .await?;
    state.jobs_changed.notify_waiters();
    Ok(res.rows_affected() == 1)
}

/// Pending and failed steps (and the newest finished ones) for the admin.
pub async fn list(state: &AppState, status: Option<&str>, limit: i64) -> sqlx::Result<Vec<JobRow>> {
    let rows = sqlx::query(
        "SELECT j.id, j.workflow, j.step, u.email, j.due_at, j.status, j.attempts, j.last_error \
         FROM jobs j LEFT JOIN users u ON u.id = j.user_id \
         WHERE ($1 = '' OR j.status = $1) ORDER BY CASE j.status WHEN 'failed' THEN 0 WHEN 'running' THEN 1 WHEN 'pending' THEN 2 ELSE 3 END, j.due_at DESC, j.id DESC LIMIT $2",
    )
    .bind(status.unwrap_or(""))
    .bind(limit)
    .fetch_all(&state.db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(JobRow {
                id: r.try_get(0)?,
                workflow: r.try_get(1)?,
                step: r.try_get(2)?,
                user_email: r.try_get(3)?,
                due_at: r.try_get(4)?,
                status: r.try_get(5)?,
                attempts: r.try_get(6)?,
                last_error: r.try_get(7)?,
            })
        })
        .collect()
}
