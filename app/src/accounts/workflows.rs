//! Onboarding: mails after e-mail verification, getting started after an
//! hour, tips after a day.

use serde::{Deserialize, Serialize};

use crate::{
    jobs::{self, Job, NewJob, Workflow},
    mail::workflow::MailVars,
    state::AppState,
};

pub struct Signup;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupStep {
    GettingStarted,
    Tips,
}

impl SignupStep {
    /// The workflow mail the step sends.
    fn mail(self) -> &'static str {
        match self {
            Self::GettingStarted => "getting_started",
            Self::Tips => "tips",
        }
    }
}

impl Workflow for Signup {
    const NAME: &'static str = "signup";
    type Step = SignupStep;
    type Ctx = AppState;

    async fn run(state: &AppState, job: &Job, step: SignupStep) -> Result<(), String> {
        let Some(user_id) = job.user_id else {
            return Err("step has no user".into());
        };
        let Some(user) = super::repo::find_by_id(&state.db, user_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            // The account is gone: nothing to send.
            return Ok(());
        };
        let vars = MailVars {
            first_name: user.first_name.clone(),
            ..Default::default()
        };
        crate::mail::workflow::send(
            &state.db,
            &state.mailer,
            &state.config,
            &user.email,
            step.mail(),
            vars,
        )
        .await
    }
}

/// Schedules the onboarding mails for a newly verified user.
pub async fn schedule_signup(state: &AppState, user_id: i64) -> Result<(), sqlx::Error> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    jobs::schedule_in(
        &mut tx,
        &[
            NewJob::new::<Signup>(&SignupStep::GettingStarted, now + 3600).for_user(user_id),
            NewJob::new::<Signup>(&SignupStep::Tips, now + 24 * 3600).for_user(user_id),
        ],
        now,
    )
    .await?;
    tx.commit().await
}
