//! Housekeeping of the public API's stored state: the answers kept for
//! `Idempotency-Key` are worth a day; after that a row is only weight (a
//! key that is used for millions of POSTs would otherwise keep millions).
//! One step, `prune_idempotency`, re-schedules itself every hour.

use serde::{Deserialize, Serialize};

use crate::{
    clock::Clock,
    db::Db,
    jobs::{self, Job, NewJob, Workflow},
    state::AppState,
};

/// How long an answer holds its Idempotency-Key.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;
/// How often the old answers are removed.
pub const PRUNE_EVERY_SECS: i64 = 3600;

pub struct ApiHousekeeping;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HousekeepingStep {
    PruneIdempotency,
}

impl Workflow for ApiHousekeeping {
    const NAME: &'static str = "api_keys";
    type Step = HousekeepingStep;
    type Ctx = AppState;

    async fn run(state: &AppState, _job: &Job, step: HousekeepingStep) -> Result<(), String> {
        match step {
            HousekeepingStep::PruneIdempotency => prune(&state.db, &state.clock)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }
}

fn prune_job(due_at: i64) -> NewJob {
    NewJob::new::<ApiHousekeeping>(&HousekeepingStep::PruneIdempotency, due_at)
}

/// Removes the answers older than a day and schedules the next round
/// (unless one is pending already: two instances starting at once merge
/// into one chain here). Returns how many rows went.
pub async fn prune(db: &Db, clock: &Clock) -> Result<u64, sqlx::Error> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let gone = super::repo::prune_idempotency(&mut tx, now - IDEMPOTENCY_TTL_SECS).await?;
    if !pending(&mut tx).await? {
        jobs::schedule_in(&mut tx, &[prune_job(now + PRUNE_EVERY_SECS)], now).await?;
    }
    tx.commit().await?;
    if gone > 0 {
        tracing::debug!(rows = gone, "old idempotency answers removed");
    }
    Ok(gone)
}

/// At start-up: the chain's first step, when none is pending.
pub async fn ensure_scheduled(db: &Db, clock: &Clock) -> Result<(), sqlx::Error> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    if !pending(&mut tx).await? {
        jobs::schedule_in(&mut tx, &[prune_job(now + PRUNE_EVERY_SECS)], now).await?;
    }
    tx.commit().await
}

async fn pending(tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE workflow = $1 AND status = 'pending'")
            .bind(ApiHousekeeping::NAME)
            .fetch_one(&mut **tx)
            .await?;
    Ok(n > 0)
}
