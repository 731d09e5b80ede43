//! Admin: plans — prices and limits.

use leptos::prelude::*;
use leptos_meta::Title;

use super::error_view;
use crate::{
    accounts::model::CurrentUser,
    billing::{
        model::format_price,
        server_fns::{admin_plans, AdminSavePlan},
    },
    ui::components::{guard::RequireAdmin, notice::ActionNotice},
};

#[component]
pub fn AdminPlans() -> impl IntoView {
    view! {
        <Title text="Plans — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| view! { <PlanEditor/> }/>
    }
}

fn cents_input(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

#[component]
fn PlanEditor() -> impl IntoView {
    let save = ServerAction::<AdminSavePlan>::new();
    let plans = Resource::new(move || save.version().get(), |_| admin_plans());
    view! {
        <h1>"Plans"</h1>
        <p class="muted">"Limits: -1 means unlimited. Prices in USD."</p>
        <ActionNotice value=save.value()/>
        <Suspense fallback=|| ()>
            {move || plans.get().map(|r| match r {
                Err(e) => error_view(&e),
                Ok(list) => list.into_iter().map(|p| view! {
                    <section class="card" data-plan=p.slug.clone()>
                        <h2>{p.name.clone()} " " <span class="muted">{format_price(p.price_monthly_cents, &p.currency)}</span></h2>
                        <ActionForm action=save attr:class="form grid-form">
                            <input type="hidden" name="id" value=p.id/>
                            <label>"Name" <input type="text" name="name" value=p.name.clone() maxlength="60"/></label>
                            <label>"Monthly" <input type="text" name="price_monthly" value=cents_input(p.price_monthly_cents)/></label>
                            <label>"Yearly" <input type="text" name="price_yearly" value=cents_input(p.price_yearly_cents)/></label>
                            <label>"Devices" <input type="number" name="max_devices" value=p.max_devices min="-1"/></label>
                            <label>"Cameras" <input type="number" name="max_cameras" value=p.max_cameras min="-1"/></label>
                            <label>"Identities" <input type="number" name="max_identities" value=p.max_identities min="-1"/></label>
                            <label>"Mesh members" <input type="number" name="max_mesh_members" value=p.max_mesh_members min="-1"/></label>
                            <label>"Data per month (GB, 0 = no cap)" <input type="number" name="data_cap_gb" value=p.data_cap_gb min="0"/></label>
                            <label class="check"><input type="checkbox" name="is_active" value="on" checked=p.is_active/>" Offered"</label>
                            <button type="submit" class="btn btn-primary">"Save"</button>
                        </ActionForm>
                    </section>
                }).collect_view().into_any(),
            })}
        </Suspense>
    }
}
