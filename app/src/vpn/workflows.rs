//! The monthly data cap: a capped user's peers come back at the start of
//! the next month.

use serde::{Deserialize, Serialize};

use crate::{
    jobs::{Job, NewJob, Workflow},
    state::AppState,
};

pub struct DataCap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataCapStep {
    LiftDataCap,
    /// The usage meter's mail at 80 % of the month's cap.
    UsageWarning,
    /// The mail that the cap is used up and what to do.
    CappedMail,
}

impl Workflow for DataCap {
    const NAME: &'static str = "vpn";
    type Step = DataCapStep;
    type Ctx = AppState;

    async fn run(state: &AppState, job: &Job, step: DataCapStep) -> Result<(), String> {
        let Some(user_id) = job.user_id else {
            return Err("step has no user".into());
        };
        match step {
            DataCapStep::LiftDataCap => lift_data_cap(state, user_id).await,
            DataCapStep::UsageWarning => usage_mail(state, user_id, "usage_warning").await,
            DataCapStep::CappedMail => usage_mail(state, user_id, "data_capped").await,
        }
    }
}

/// A usage-meter mail step, due now.
pub fn mail_now(user_id: i64, step: DataCapStep, now: i64) -> NewJob {
    NewJob::new::<DataCap>(&step, now).for_user(user_id)
}

async fn usage_mail(state: &AppState, user_id: i64, name: &str) -> Result<(), String> {
    let Some(user) = crate::accounts::repo::find_by_id(&state.db, user_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let plan_name = crate::billing::repo::user_plan_name(&state.db.pool, user_id)
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| "Free".into());
    let vars = crate::mail::workflow::MailVars {
        first_name: user.first_name.clone(),
        plan_name,
        ..Default::default()
    };
    crate::mail::workflow::send(
        &state.db,
        &state.mailer,
        &state.config,
        &user.email,
        name,
        vars,
    )
    .await
}

/// The step that lifts `user_id`'s cap at `next_month`.
pub fn lift_at(user_id: i64, next_month: i64) -> NewJob {
    NewJob::new::<DataCap>(&DataCapStep::LiftDataCap, next_month).for_user(user_id)
}

/// A new month (or a new plan) gives a capped user their peers back.
pub async fn lift_data_cap(state: &AppState, user_id: i64) -> Result<(), String> {
    let mut tx = state.db.begin_write().await.map_err(|e| e.to_string())?;
    super::repo::set_data_capped(&mut tx, user_id, None)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    state.node_changes.notify_waiters();
    Ok(())
}
