//! Admin: automation — scheduled workflow steps, retry of failed ones.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::CurrentUser,
    billing::server_fns::{admin_jobs, AdminRetryJob},
    jobs::model::JobStatus,
    ui::components::{
        guard::RequireAdmin,
        notice::{error_notice, format_time, ActionNotice},
    },
};

#[component]
pub fn AdminJobs() -> impl IntoView {
    view! {
        <Title text="Automation — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| {
            let retry = ServerAction::<AdminRetryJob>::new();
            let query = leptos_router::hooks::use_query_map();
            let status = move || query.read().get("status").unwrap_or_default();
            let jobs = Resource::new(move || (status(), retry.version().get()), |(s, _)| admin_jobs(s));
            view! {
                <h1>"Automation"</h1>
                <p class="muted">"Workflow steps: signup mails, receipts, dunning (reminders on days 0, 3 and 7, suspension on day 8), expiry notices and renewals."</p>
                <p class="filters">
                    <a href="/admin/jobs">"All"</a>" · "<a href="/admin/jobs?status=pending">"Pending"</a>" · "
                    <a href="/admin/jobs?status=failed">"Failed"</a>" · "<a href="/admin/jobs?status=done">"Done"</a>
                </p>
                <ActionNotice value=retry.value()/>
                <Suspense fallback=|| ()>
                    {move || jobs.get().map(|r| match r {
                        Err(e) => error_notice(&e).into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap"><table class="table" data-testid="jobs">
                                <thead><tr><th>"Workflow"</th><th>"Step"</th><th>"User"</th><th>"Due"</th><th>"Status"</th><th>"Attempts"</th><th>"Error"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|j| view! {
                                        <tr>
                                            <td>{j.workflow.clone()}</td>
                                            <td>{j.step.clone()}</td>
                                            <td>{j.user_email.clone().unwrap_or_default()}</td>
                                            <td>{format_time(j.due_at)}</td>
                                            <td>{j.status.as_str()}</td>
                                            <td>{j.attempts}</td>
                                            <td class="small">{j.last_error.clone().unwrap_or_default()}</td>
                                            <td>{(j.status == JobStatus::Failed).then(|| view! {
                                                <ActionForm action=retry attr:class="inline-form">
                                                    <input type="hidden" name="id" value=j.id/>
                                                    <button type="submit" class="btn btn-ghost small">"Retry"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    })}
                </Suspense>
            }
        }/>
    }
}
