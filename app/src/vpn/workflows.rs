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
}

impl Workflow for DataCap {
    const NAME: &'static str = "vpn";
    type Step = DataCapStep;
    type Ctx = AppState;

    async fn run(state: &AppState, job: &Job, step: DataCapStep) -> Result<(), String> {
        match step {
            DataCapStep::LiftDataCap => {
                let Some(user_id) = job.user_id else {
                    return Err("step has no user".into());
                };
                lift_data_cap(state, user_id).await
            }
        }
    }
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
