//! The scheduler: workflow steps persisted with their due time, claimed by
//! background workers, retried with backoff, and ended as done or failed.
//!
//! A claim is one `UPDATE … RETURNING` that flips due rows to `running`. On
//! PostgreSQL the rows are chosen `FOR UPDATE SKIP LOCKED`, so several portal
//! instances never claim the same step; SQLite has a single writer. A step
//! whose worker died (still `running` after [`STALE_AFTER`]) is claimed again.

use std::{collections::HashMap, future::Future, pin::Pin, time::Duration};

use serde::{de::DeserializeOwned, Serialize};
use sqlx::{Any, Transaction};

use super::model::{JobRow, JobStatus};
use crate::{
    clock::Clock,
    db::{Db, Engine},
};

/// A running step untouched for this long is presumed abandoned.
pub const STALE_AFTER: i64 = 300;
/// Steps claimed per round trip.
const BATCH: i64 = 64;
/// A step gives up after this many attempts.
pub const MAX_ATTEMPTS: i64 = 5;

/// Retry delay after `attempts` failures: 30 s, 1 min, 2 min, … capped at an hour.
pub fn retry_delay(attempts: i64) -> i64 {
    (30_i64 << attempts.clamp(0, 7)).min(3600)
}

/// One workflow of a concept: its name in `jobs.workflow`, its steps, and
/// what a step does. A step re-reads what it acts on when it runs, so a
/// step made moot by later events ends as done without acting.
pub trait Workflow: 'static {
    /// Stored in `jobs.workflow`; never renamed without a migration.
    const NAME: &'static str;
    /// Stored in `jobs.step` through serde: a unit variant or a type that
    /// serialises as a string is stored as that plain string.
    type Step: Serialize + DeserializeOwned + Send + 'static;
    /// What the steps run with (the application state).
    type Ctx: Send + Sync + 'static;

    fn run(
        ctx: &Self::Ctx,
        job: &Job,
        step: Self::Step,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
type Runner<C> = for<'a> fn(&'a C, &'a Job) -> StepFuture<'a>;

/// The registered workflows, by name.
pub struct Workflows<C> {
    runners: HashMap<&'static str, Runner<C>>,
}

impl<C> Default for Workflows<C> {
    fn default() -> Self {
        Self {
            runners: HashMap::new(),
        }
    }
}

fn run_erased<'a, W: Workflow>(ctx: &'a W::Ctx, job: &'a Job) -> StepFuture<'a> {
    Box::pin(async move {
        let step = decode_step::<W::Step>(&job.step).ok_or_else(|| unknown_step(job))?;
        W::run(ctx, job, step).await
    })
}

fn unknown_step(job: &Job) -> String {
    format!("unknown step {}/{}", job.workflow, job.step)
}

impl<C: Send + Sync + 'static> Workflows<C> {
    pub fn register<W: Workflow<Ctx = C>>(mut self) -> Self {
        self.runners.insert(W::NAME, run_erased::<W>);
        self
    }

    async fn run(&self, ctx: &C, job: &Job) -> Result<(), String> {
        match self.runners.get(job.workflow.as_str()) {
            Some(run) => run(ctx, job).await,
            None => Err(unknown_step(job)),
        }
    }
}

/// What the worker needs from the application.
pub trait Context: Clone + Send + Sync + 'static {
    fn db(&self) -> &Db;
    fn clock(&self) -> &Clock;
    fn workflows(&self) -> &Workflows<Self>;
    /// Woken when a step is scheduled, so the worker runs it at once.
    fn jobs_changed(&self) -> &tokio::sync::Notify;
}

fn encode_step<S: Serialize>(step: &S) -> String {
    match serde_json::to_value(step) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        // Not reachable for the step enums; the admin then sees an unknown step.
        Err(e) => {
            tracing::error!(error = %e, "a workflow step did not serialise");
            String::new()
        }
    }
}

fn decode_step<S: DeserializeOwned>(stored: &str) -> Option<S> {
    serde_json::from_value(serde_json::Value::String(stored.to_owned()))
        .ok()
        .or_else(|| serde_json::from_str(stored).ok())
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub workflow: &'static str,
    pub step: String,
    pub user_id: Option<i64>,
    pub subscription_id: Option<i64>,
    pub due_at: i64,
}

impl NewJob {
    pub fn new<W: Workflow>(step: &W::Step, due_at: i64) -> Self {
        Self {
            workflow: W::NAME,
            step: encode_step(step),
            user_id: None,
            subscription_id: None,
            due_at,
        }
    }

    pub fn for_user(mut self, user_id: i64) -> Self {
        self.user_id = Some(user_id);
        self
    }

    pub fn for_subscription(mut self, subscription_id: i64) -> Self {
        self.subscription_id = Some(subscription_id);
        self
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
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
pub async fn cancel_pending_in<W: Workflow>(
    tx: &mut Transaction<'static, Any>,
    subscription_id: i64,
    now: i64,
) -> sqlx::Result<u64> {
    sqlx::query(
        "UPDATE jobs SET status = 'cancelled', finished_at = $1 WHERE subscription_id = $2 AND workflow = $3 AND status = 'pending'",
    )
    .bind(now)
    .bind(subscription_id)
    .bind(W::NAME)
    .execute(&mut **tx)
    .await
    .map(|r| r.rows_affected())
}

/// Claims up to `limit` due steps for `worker`.
pub async fn claim(db: &Db, clock: &Clock, worker: &str, limit: i64) -> sqlx::Result<Vec<Job>> {
    let now = clock.now();
    let lock = match db.engine {
        Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_at = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM jobs WHERE (status = 'pending' AND due_at <= $2) \
                      OR (status = 'running' AND locked_at < $3) ORDER BY due_at, id LIMIT $4 {lock}) \
         RETURNING id, workflow, step, user_id, subscription_id, due_at, attempts"
    );
    let mut tx = db.begin_write().await?;
    let mut jobs: Vec<Job> = sqlx::query_as(&sql)
        .bind(worker)
        .bind(now)
        .bind(now - STALE_AFTER)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    jobs.sort_by_key(|j| (j.due_at, j.id));
    Ok(jobs)
}

/// Records a step's outcome: done, retried later, or failed for good.
pub async fn finish(
    db: &Db,
    clock: &Clock,
    job: &Job,
    result: Result<(), String>,
) -> sqlx::Result<()> {
    let now = clock.now();
    let q = match &result {
        Ok(()) => sqlx::query(
            "UPDATE jobs SET status = 'done', finished_at = $1, last_error = NULL, locked_by = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(job.id),
        Err(e) if job.attempts < MAX_ATTEMPTS => sqlx::query(
            "UPDATE jobs SET status = 'pending', due_at = $1, last_error = $2, locked_by = NULL WHERE id = $3",
        )
        .bind(now + retry_delay(job.attempts - 1))
        .bind(e.chars().take(1000).collect::<String>())
        .bind(job.id),
        Err(e) => sqlx::query(
            "UPDATE jobs SET status = 'failed', finished_at = $1, last_error = $2, locked_by = NULL WHERE id = $3",
        )
        .bind(now)
        .bind(e.chars().take(1000).collect::<String>())
        .bind(job.id),
    };
    q.execute(&db.pool).await.map(|_| ())
}

/// Runs every step due now; returns how many ran.
pub async fn run_due<C: Context>(ctx: &C, worker: &str) -> sqlx::Result<usize> {
    let mut ran = 0;
    loop {
        let batch = claim(ctx.db(), ctx.clock(), worker, BATCH).await?;
        if batch.is_empty() {
            return Ok(ran);
        }
        for job in &batch {
            let result = ctx.workflows().run(ctx, job).await;
            if let Err(e) = &result {
                tracing::warn!(job = job.id, workflow = %job.workflow, step = %job.step, attempt = job.attempts, error = %e, "step failed");
            }
            finish(ctx.db(), ctx.clock(), job, result).await?;
            ran += 1;
        }
    }
}

/// The background worker: runs due steps, then waits for a new step or a
/// second, whichever comes first.
pub fn spawn_worker<C: Context>(ctx: C, worker: String) {
    tokio::spawn(async move {
        loop {
            let wake = ctx.jobs_changed().notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            if let Err(e) = run_due(&ctx, &worker).await {
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
pub async fn retry<C: Context>(ctx: &C, id: i64) -> sqlx::Result<bool> {
    let res = sqlx::query(
        "UPDATE jobs SET status = 'pending', due_at = $1, attempts = 0, finished_at = NULL WHERE id = $2 AND status = 'failed'",
    )
    .bind(ctx.clock().now())
    .bind(id)
    .execute(&ctx.db().pool)
    .await?;
    ctx.jobs_changed().notify_waiters();
    Ok(res.rows_affected() == 1)
}

/// Pending and failed steps (and the newest finished ones) for the admin.
pub async fn list(db: &Db, status: Option<JobStatus>, limit: i64) -> sqlx::Result<Vec<JobRow>> {
    sqlx::query_as(
        "SELECT j.id, j.workflow, j.step, u.email AS user_email, j.due_at, j.status, j.attempts, j.last_error \
         FROM jobs j LEFT JOIN users u ON u.id = j.user_id \
         WHERE ($1 = '' OR j.status = $1) ORDER BY CASE j.status WHEN 'failed' THEN 0 WHEN 'running' THEN 1 WHEN 'pending' THEN 2 ELSE 3 END, j.due_at DESC, j.id DESC LIMIT $2",
    )
    .bind(status.map(JobStatus::as_str).unwrap_or(""))
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}
