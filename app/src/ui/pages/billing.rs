//! The customer's billing: plan and subscription, checkout, cancel/resume,
//! invoices (printable), and the built-in test provider's payment page.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::CurrentUser,
    billing::{
        model::{format_price, invoice_label, BillingOverview, InvoiceInfo},
        server_fns::{
            invoice, my_billing, test_checkout, CancelSubscription, Checkout, ResumeSubscription,
            TestPay,
        },
    },
    pausing::{
        model::{KeepPreview, KindPreview},
        server_fns::KeepOnPlan,
    },
    ui::components::{
        guard::RequireUser,
        notice::{error_notice, format_time, ActionError, ActionNotice, Time},
        refresh::refetch_after,
    },
};

#[component]
pub fn Billing() -> impl IntoView {
    view! {
        <Title text="Billing — TrueVault"/>
        <RequireUser children=|_u: CurrentUser| view! { <BillingPage/> }/>
    }
}

#[component]
fn BillingPage() -> impl IntoView {
    let checkout = ServerAction::<Checkout>::new();
    let cancel = ServerAction::<CancelSubscription>::new();
    let resume = ServerAction::<ResumeSubscription>::new();
    let keep = ServerAction::<KeepOnPlan>::new();
    let data = Resource::new(|| (), |_| my_billing());
    refetch_after(data, move || {
        checkout.version().get()
            + cancel.version().get()
            + resume.version().get()
            + keep.version().get()
    });
    let query = leptos_router::hooks::use_query_map();
    let done = move || query.read().get("checkout");
    view! {
        <h1>"Billing"</h1>
        {move || done().map(|d| match d.as_str() {
            "done" => view! { <p class="notice success" data-testid="checkout-done">"Thank you! Your payment went through."</p> }.into_any(),
            "declined" => view! { <p class="notice error">"The payment was declined; nothing was charged."</p> }.into_any(),
            _ => view! { <p class="notice">"The checkout was cancelled; nothing was charged."</p> }.into_any(),
        })}
        <ActionNotice value=checkout.value()/>
        <ActionNotice value=cancel.value()/>
        <ActionNotice value=resume.value()/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => error_notice(&e).into_any(),
                Ok(o) => {
                    let choice = o.keep.clone().map(|p| view! { <KeepChoice p=p keep/> });
                    view! { <Overview o=o checkout cancel resume/>{choice} }.into_any()
                }
            })}
        </Suspense>
        <ActionError value=keep.value()/>
    }
}

/// Before a smaller plan takes effect: what it keeps (pre-selected: the
/// most recently used, or what the user chose) and what it pauses, with
/// "Keep this instead" on each paused one.
#[component]
fn KeepChoice(p: KeepPreview, keep: ServerAction<KeepOnPlan>) -> impl IntoView {
    view! {
        <section class="card" data-testid="keep-choice">
            <h2>{format!("What stays on {}", p.plan_name)}</h2>
            <p class="muted">"From "<Time ts=p.at day_only=true/>" your plan includes fewer than you have. Choose what to keep; the rest is paused, not deleted, and comes back with the same keys and settings when you upgrade."</p>
            {p.kinds.into_iter().map(|k: KindPreview| view! {
                <h3>{format!("{} ({} kept)", k.kind.plural_label(), k.max)}</h3>
                <ul class="keep-list">
                    {k.keep.into_iter().map(|i| view! {
                        <li data-keep="kept" data-kind=i.kind.as_str() data-id=i.id>
                            <strong>{i.name.clone()}</strong>" — kept"
                        </li>
                    }).collect_view()}
                    {k.pause.into_iter().map(|i| view! {
                        <li data-keep="paused" data-kind=i.kind.as_str() data-id=i.id>
                            {i.name.clone()}" — will be paused "
                            <ActionForm action=keep attr:class="inline-form">
                                <input type="hidden" name="kind" value=i.kind.as_str()/>
                                <input type="hidden" name="id" value=i.id/>
                                <button type="submit" class="btn btn-ghost small">"Keep this instead"</button>
                            </ActionForm>
                        </li>
                    }).collect_view()}
                </ul>
            }).collect_view()}
        </section>
    }
}

#[component]
fn Overview(
    o: BillingOverview,
    checkout: ServerAction<Checkout>,
    cancel: ServerAction<CancelSubscription>,
    resume: ServerAction<ResumeSubscription>,
) -> impl IntoView {
    let sub = o.subscription.clone();
    view! {
        <section class="card" data-testid="subscription">
            <h2>{format!("Your plan: {}", o.current_plan)}</h2>
            {o.is_vip.then(|| view! { <p class="notice success">"VIP account: no payment needed and no limits."</p> })}
            {match sub.clone() {
                None => view! { <p class="muted">"No paid subscription."</p> }.into_any(),
                Some(s) => view! {
                    <p>
                        <strong data-testid="subscription-status">{s.status.label()}</strong>
                        {format!(" · {} {} ({})", format_price(s.amount_cents, &s.currency), s.cycle, s.plan_name)}
                    </p>
                    <p class="muted">"Current period "<Time ts=s.current_period_start day_only=true/>" to "<Time ts=s.current_period_end day_only=true/></p>
                    {s.pending_plan_name.clone().map(|p| view! { <p class="muted">{format!("Moves to {p} at the end of this period.")}</p> })}
                    {if s.cancel_at_period_end {
                        view! {
                            <p class="notice">"Ends on "<Time ts=s.current_period_end day_only=true/>" and will not renew."</p>
                            <ActionForm action=resume attr:class="inline-form"><button type="submit" class="btn btn-primary">"Resume subscription"</button></ActionForm>
                        }.into_any()
                    } else if s.grants_plan() {
                        view! { <ActionForm action=cancel attr:class="inline-form"><button type="submit" class="btn btn-ghost">"Cancel at period end"</button></ActionForm> }.into_any()
                    } else {
                        ().into_any()
                    }}
                }.into_any(),
            }}
        </section>
        {(!o.is_vip).then(|| {
            let providers = o.providers.clone();
            let plans = o.plans.clone();
            view! {
                <section class="plans-grid">
                    {plans.into_iter().filter(|p| p.price_monthly_cents > 0).map(|p| {
                        let providers = providers.clone();
                        view! {
                            <div class="card plan" data-plan=p.slug.clone()>
                                <h3>{p.name.clone()}</h3>
                                <p class="price">{format!("{} / month", format_price(p.price_monthly_cents, &p.currency))}</p>
                                <p class="muted small">{format!("or {} / year", format_price(p.price_yearly_cents, &p.currency))}</p>
                                <ActionForm action=checkout attr:class="form">
                                    <input type="hidden" name="plan_id" value=p.id/>
                                    <label>"Billing"
                                        <select name="cycle">
                                            <option value="monthly">"Monthly"</option>
                                            <option value="yearly">"Yearly"</option>
                                        </select>
                                    </label>
                                    <label>"Pay with"
                                        <select name="provider">
                                            {providers.into_iter().map(|pr| {
                                                view! { <option value=pr.as_str()>{pr.label()}</option> }
                                            }).collect_view()}
                                        </select>
                                    </label>
                                    <button type="submit" class="btn btn-primary">{format!("Choose {}", p.name)}</button>
                                </ActionForm>
                            </div>
                        }
                    }).collect_view()}
                </section>
            }
        })}
        <section class="card">
            <h2>"Invoices"</h2>
            {if o.invoices.is_empty() {
                view! { <p class="muted">"No invoices yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap"><table class="table" data-testid="invoices">
                        <thead><tr><th>"Invoice"</th><th>"Date"</th><th>"Total"</th><th>"Status"</th></tr></thead>
                        <tbody>
                            {o.invoices.iter().map(|i| view! {
                                <tr>
                                    <td><a href=format!("/billing/invoices/{}", i.number)>{invoice_label(i.number)}</a></td>
                                    <td><Time ts=i.created_at day_only=true/></td>
                                    <td>{format_price(i.total_cents, &i.currency)}</td>
                                    <td>{i.status.as_str()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
        </section>
    }
}

#[component]
pub fn InvoicePage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let number = move || {
        params
            .read()
            .get("number")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    view! {
        <Title text="Invoice — TrueVault"/>
        <RequireUser children=move |_u: CurrentUser| {
            let inv = Resource::new(number, invoice);
            view! {
                <p class="no-print"><a href="/billing">"← Billing"</a></p>
                <Suspense fallback=|| ()>
                    {move || inv.get().map(|r| match r {
                        Err(e) => error_notice(&e).into_any(),
                        Ok(i) => view! { <InvoiceSheet i=i/> }.into_any(),
                    })}
                </Suspense>
            }
        }/>
    }
}

/// Inline handlers are blocked by our CSP, so printing goes through wasm.
fn print_page(_: leptos::ev::MouseEvent) {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.print();
    }
}

#[component]
fn InvoiceSheet(i: InvoiceInfo) -> impl IntoView {
    view! {
        <article class="card invoice" data-testid="invoice">
            <header>
                <h1>{format!("Invoice {}", invoice_label(i.number))}</h1>
                <p class="muted">"TrueVault"</p>
            </header>
            <dl class="facts">
                <dt>"Billed to"</dt><dd>{format!("{} <{}>", i.customer_name, i.customer_email)}</dd>
                <dt>"Date"</dt><dd>{format_time(i.created_at)}</dd>
                <dt>"Due"</dt><dd>{format_time(i.due_at)}</dd>
                <dt>"Status"</dt><dd data-testid="invoice-status">{i.status.as_str()}</dd>
                {i.paid_at.map(|p| view! { <dt>"Paid"</dt><dd>{format_time(p)}</dd> })}
            </dl>
            <div class="table-wrap"><table class="table">
                <thead><tr><th>"Description"</th><th class="num">"Amount"</th></tr></thead>
                <tbody>
                    <tr><td>{i.description.clone()}</td><td class="num">{format_price(i.amount_cents, &i.currency)}</td></tr>
                    <tr><td>"Tax"</td><td class="num">{format_price(i.tax_cents, &i.currency)}</td></tr>
                    <tr class="total"><td>"Total"</td><td class="num" data-testid="invoice-total">{format_price(i.total_cents, &i.currency)}</td></tr>
                </tbody>
            </table></div>
            <p class="no-print"><button type="button" class="btn btn-ghost" on:click=print_page>"Print"</button></p>
        </article>
    }
}

/// The built-in test provider's "bank" page.
#[component]
pub fn TestPayPage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let reference = move || params.read().get("reference").unwrap_or_default();
    view! {
        <Title text="Test payment — TrueVault"/>
        <RequireUser children=move |_u: CurrentUser| {
            let pay = ServerAction::<TestPay>::new();
            let info = Resource::new(reference, test_checkout);
            view! {
                <h1>"Test payment"</h1>
                <p class="notice">"This is TrueVault's built-in test provider: no real money moves."</p>
                <Suspense fallback=|| ()>
                    {move || info.get().map(|r| match r {
                        Err(e) => error_notice(&e).into_any(),
                        Ok((what, amount)) => view! {
                            <section class="card">
                                <p>{what}</p>
                                <p class="price" data-testid="test-amount">{amount}</p>
                                {["pay", "pay_fail_renewals", "decline"].into_iter().map(|result| {
                                    let label = match result { "pay" => "Pay", "pay_fail_renewals" => "Pay (renewals will fail)", _ => "Decline" };
                                    view! {
                                        <ActionForm action=pay attr:class="inline-form">
                                            <input type="hidden" name="reference" value=reference()/>
                                            <input type="hidden" name="result" value=result/>
                                            <button type="submit" class=if result == "decline" { "btn btn-danger" } else { "btn btn-primary" } data-testid=format!("test-{result}")>{label}</button>
                                        </ActionForm>
                                    }
                                }).collect_view()}
                            </section>
                        }.into_any(),
                    })}
                </Suspense>
            }
        }/>
    }
}
