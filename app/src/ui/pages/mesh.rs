//! Mesh networks: the list with the create form, one network (members and
//! roles, invites, shared devices), the invite link's page (accept, or
//! sign up and join), and the dashboard card.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::{
    accounts::model::CurrentUser,
    mesh::{
        model::{
            Access, InviteState, MeshRole, NetworkDetail, ShareKind, Shareable, INVITE_TTL_SECS,
        },
        rules::format_ports,
        server_fns::{
            mesh_network, mesh_networks, preview_invite, AcceptInvite, CreateNetwork,
            DeleteNetwork, InviteMember, LeaveNetwork, RemoveMember, RevokeInvite, SetMemberRole,
            ShareDevice, SignupWithInvite, UnshareDevice,
        },
    },
    ui::components::{
        guard::RequireUser,
        notice::{error_notice, error_text, format_time, plural, ActionError, ActionNotice},
    },
};

#[component]
pub fn MeshNetworks() -> impl IntoView {
    // Made outside the guard: server rendering walks the guard's Suspend
    // more than once, and a resource made inside it loads once per walk.
    let create = ServerAction::<CreateNetwork>::new();
    let data = Resource::new(move || create.version().get(), |_| mesh_networks());
    view! {
        <Title text="Mesh networks — TrueVault"/>
        <RequireUser children=move |_u: CurrentUser| view! { <NetworksView create data/> }/>
    }
}

#[component]
fn NetworksView(
    create: ServerAction<CreateNetwork>,
    data: Resource<Result<crate::mesh::model::NetworksPage, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <h1>"Mesh networks"</h1>
        <p class="muted">"A private network for your family or team: members' VPN devices on the network's server reach each other, and the home devices you share with it."</p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move { match data.await {
                Err(e) => error_notice(&e).into_any(),
                Ok(page) => view! {
                    {if page.networks.is_empty() {
                        view! { <p class="muted" data-testid="no-networks">"You are not in any mesh network yet."</p> }.into_any()
                    } else {
                        view! {
                            <table class="table" data-testid="network-list">
                                <thead><tr><th>"Network"</th><th>"Owner"</th><th>"Server"</th><th>"Your role"</th><th>"Members"</th><th>"Shared"</th></tr></thead>
                                <tbody>
                                    {page.networks.iter().map(|n| view! {
                                        <tr data-testid="network-row">
                                            <td><a href=format!("/mesh/{}", n.id)>{n.name.clone()}</a><br/><span class="muted small">{n.description.clone()}</span></td>
                                            <td>{n.owner_email.clone()}</td>
                                            <td>{n.server_name.clone()}</td>
                                            <td>{n.my_role.label()}</td>
                                            <td>{n.members}</td>
                                            <td>{n.shares}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                    <section class="card" data-testid="create-network">
                        <h2>"Create a network"</h2>
                        {if page.can_create {
                            view! {
                                {page.member_limit.map(|l| view! { <p class="muted small">{format!("Your plan allows {l} people across your networks, you included.")}</p> })}
                                <ActionForm action=create attr:class="form">
                                    <label>"Name"<input type="text" name="form[name]" required maxlength="64" placeholder="Family"/></label>
                                    <label>"Description"<textarea name="form[description]" maxlength="500"></textarea></label>
                                    <button type="submit" class="btn btn-primary">"Create network"</button>
                                </ActionForm>
                                <ActionError value=create.value()/>
                                {move || create.value().get().and_then(|r| r.ok()).map(|id| view! {
                                    <p class="notice success">"Network created. "<a href=format!("/mesh/{id}")>"Open it to invite people"</a></p>
                                })}
                            }.into_any()
                        } else {
                            view! { <p class="notice" data-testid="mesh-not-in-plan">"Your plan does not include mesh networks. "<a href="/billing">"The Family and Business plans do."</a>" You can still join a network someone invites you to."</p> }.into_any()
                        }}
                    </section>
                }.into_any(),
            }})}
        </Suspense>
    }
}

fn access_options() -> impl IntoView {
    Access::ALL
        .iter()
        .map(|&a| view! { <option value=a.as_str() selected=a == Access::Use>{a.label()}</option> })
        .collect_view()
}

fn shareable_label(s: &Shareable) -> String {
    let what = match s.kind {
        ShareKind::Camera => "camera",
        _ if s.is_camera => "device, camera",
        _ => "device",
    };
    format!("{} ({}, {what})", s.name, s.ip)
}

#[component]
pub fn MeshNetworkPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    // Made outside the guard, like the list's (see `MeshNetworks`).
    let invite = ServerAction::<InviteMember>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let share = ServerAction::<ShareDevice>::new();
    let unshare = ServerAction::<UnshareDevice>::new();
    let leave = ServerAction::<LeaveNetwork>::new();
    let delete = ServerAction::<DeleteNetwork>::new();
    let set_role = ServerAction::<SetMemberRole>::new();
    let data = Resource::new(
        move || {
            (
                id(),
                invite.version().get(),
                revoke.version().get(),
                remove.version().get(),
                share.version().get(),
                unshare.version().get(),
                set_role.version().get(),
            )
        },
        |(id, ..)| mesh_network(id),
    );
    view! {
        <Title text="Mesh network — TrueVault"/>
        <RequireUser children=move |u: CurrentUser| {
            let me = u.id;
            view! {
                <p><a href="/mesh">"← Mesh networks"</a></p>
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move { match data.await {
                        Err(e) => error_notice(&e).into_any(),
                        Ok(n) => view! {
                            <NetworkBody n=n me=me invite revoke remove share unshare leave delete set_role/>
                        }.into_any(),
                    }})}
                </Suspense>
            }
        }/>
    }
}

#[allow(clippy::too_many_arguments)]
#[component]
fn NetworkBody(
    n: NetworkDetail,
    me: i64,
    invite: ServerAction<InviteMember>,
    revoke: ServerAction<RevokeInvite>,
    remove: ServerAction<RemoveMember>,
    share: ServerAction<ShareDevice>,
    unshare: ServerAction<UnshareDevice>,
    leave: ServerAction<LeaveNetwork>,
    delete: ServerAction<DeleteNetwork>,
    set_role: ServerAction<SetMemberRole>,
) -> impl IntoView {
    let manages = n.my_role.manages_members();
    let owner = n.my_role == MeshRole::Owner;
    let nid = n.id.0;
    let my_role = n.my_role;
    view! {
        <h1 data-testid="network-name">{n.name.clone()}</h1>
        {(!n.description.is_empty()).then(|| view! { <p class="muted">{n.description.clone()}</p> })}
        <p>
            {format!("Lives on server {}. Owner: {}. Your role: {}.", n.server_name, n.owner_email, n.my_role.label())}
        </p>
        {if n.my_devices_here == 0 {
            view! { <p class="notice warning" data-testid="no-device-here">{format!("None of your VPN devices is on {}: only devices on the network's server reach the other members. ", n.server_name)}<a href="/devices">"Add a device there"</a></p> }.into_any()
        } else {
            view! { <p class="muted small">{format!("{} of your devices are on {} and part of this network.", n.my_devices_here, n.server_name)}</p> }.into_any()
        }}
        <section class="card" data-testid="members">
            <h2>"Members"</h2>
            {n.member_limit.map(|l| view! { <p class="muted small" data-testid="member-limit">{format!("{} of {l} places used (the owner's plan; pending invites hold a place).", n.seats_used)}</p> })}
            <table class="table">
                <thead><tr><th>"Member"</th><th>"Role"</th><th>"Devices on this server"</th><th>"Joined"</th><th></th></tr></thead>
                <tbody>
                    {n.members.iter().map(|m| {
                        let removable = m.user_id != me && crate::mesh::rules::may_remove(my_role, m.role).is_ok();
                        let uid = m.user_id;
                        view! {
                            <tr data-testid="member-row">
                                <td>{m.email.clone()}<br/><span class="muted small">{m.first_name.clone()}</span></td>
                                <td>{m.role.label()}</td>
                                <td>{m.devices_here}</td>
                                <td>{format_time(m.joined_at)}</td>
                                <td>{(owner && m.role != MeshRole::Owner).then(|| {
                                    let (to, label) = if m.role == MeshRole::Admin { ("member", "Make member") } else { ("admin", "Make admin") };
                                    view! {
                                        <ActionForm action=set_role attr:class="inline-form">
                                            <input type="hidden" name="network_id" value=nid/>
                                            <input type="hidden" name="user_id" value=uid/>
                                            <input type="hidden" name="role" value=to/>
                                            <button type="submit" class="btn btn-ghost small">{label}</button>
                                        </ActionForm>
                                    }
                                })}
                                {removable.then(|| view! {
                                    <ActionForm action=remove attr:class="inline-form">
                                        <input type="hidden" name="network_id" value=nid/>
                                        <input type="hidden" name="user_id" value=uid/>
                                        <button type="submit" class="btn btn-danger small">"Remove"</button>
                                    </ActionForm>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <ActionError value=remove.value()/>
            <ActionError value=set_role.value()/>
        </section>
        {manages.then(|| view! {
            <section class="card" data-testid="invites">
                <h2>"Invite someone"</h2>
                <p class="muted small">{format!("They get a link by e-mail that works once, for {} days; new people create their account through it.", INVITE_TTL_SECS / 86_400)}</p>
                <ActionForm action=invite attr:class="form inline">
                    <input type="hidden" name="form[network_id]" value=nid/>
                    <input type="email" name="form[email]" required maxlength="254" placeholder="name@example.com" aria-label="E-mail address"/>
                    {if owner {
                        view! { <select name="form[role]" aria-label="Role"><option value="member">"Member"</option><option value="admin">"Admin"</option></select> }.into_any()
                    } else {
                        view! { <input type="hidden" name="form[role]" value="member"/> }.into_any()
                    }}
                    <button type="submit" class="btn btn-primary">"Send invite"</button>
                </ActionForm>
                <ActionNotice value=invite.value()/>
                <ActionError value=revoke.value()/>
                {(!n.invites.is_empty()).then(|| view! {
                    <table class="table">
                        <thead><tr><th>"Address"</th><th>"Role"</th><th>"Sent"</th><th>"State"</th><th></th></tr></thead>
                        <tbody>
                            {n.invites.iter().map(|i| {
                                let iid = i.id.0;
                                let state = match i.state {
                                    InviteState::Pending => format!("pending until {}", format_time(i.expires_at)),
                                    InviteState::Used => "accepted".into(),
                                    InviteState::Expired => "expired".into(),
                                    InviteState::Revoked => "withdrawn".into(),
                                };
                                view! {
                                    <tr data-testid="invite-row">
                                        <td>{i.email.clone()}</td>
                                        <td>{i.role.label()}</td>
                                        <td>{format_time(i.created_at)}</td>
                                        <td>{state}</td>
                                        <td>{(i.state == InviteState::Pending).then(|| view! {
                                            <ActionForm action=revoke attr:class="inline-form">
                                                <input type="hidden" name="network_id" value=nid/>
                                                <input type="hidden" name="invite_id" value=iid/>
                                                <button type="submit" class="btn btn-ghost small">"Withdraw"</button>
                                            </ActionForm>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
            </section>
        })}
        <section class="card" data-testid="shares">
            <h2>"Shared devices"</h2>
            {if n.shares.is_empty() {
                view! { <p class="muted">"Nothing is shared with this network yet."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th>"Device"</th><th>"Access"</th><th>"Ports"</th><th></th></tr></thead>
                        <tbody>
                            {n.shares.iter().map(|s| {
                                let sid = s.id.0;
                                let ports = match s.access {
                                    Access::Use => format!("TCP {}", format_ports(&s.ports)),
                                    Access::Full => "all".into(),
                                    Access::View => "— (through the portal)".into(),
                                };
                                view! {
                                    <tr data-testid="share-row">
                                        <td>{s.name.clone()}<br/><span class="muted small">{s.lan_ip.clone()}</span></td>
                                        <td>{s.access.as_str()}</td>
                                        <td>{ports}</td>
                                        <td>
                                            {s.camera_id.map(|c| view! { <a class="btn btn-ghost small" href=format!("/cameras/{c}")>"Watch"</a> })}
                                            {owner.then(|| view! {
                                                <ActionForm action=unshare attr:class="inline-form">
                                                    <input type="hidden" name="network_id" value=nid/>
                                                    <input type="hidden" name="share_id" value=sid/>
                                                    <button type="submit" class="btn btn-danger small">"Stop sharing"</button>
                                                </ActionForm>
                                            })}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <ActionError value=unshare.value()/>
            {owner.then(|| {
                let options: Vec<Shareable> = n.shareable.clone();
                view! {
                    <h3>"Share a home device"</h3>
                    {if options.is_empty() {
                        view! { <p class="muted">"Your home network has no devices yet: run the scanner or add a camera first."</p> }.into_any()
                    } else {
                        view! {
                            <ActionForm action=share attr:class="form">
                                <input type="hidden" name="form[network_id]" value=nid/>
                                <label>"Device"
                                    <select name="form[target]" data-share-target="">
                                        {options.iter().map(|s| view! { <option value=format!("{}:{}", s.kind.as_str(), s.id)>{shareable_label(s)}</option> }).collect_view()}
                                    </select>
                                </label>
                                <label>"Access"<select name="form[access]">{access_options()}</select></label>
                                <label>"TCP ports (for use)"<input type="text" name="form[ports]" maxlength="400" placeholder="631, 22"/></label>
                                <label>"Name members see"<input type="text" name="form[name]" maxlength="64" placeholder="as in your home network"/></label>
                                <button type="submit" class="btn btn-primary">"Share"</button>
                            </ActionForm>
                            <ActionError value=share.value()/>
                        }.into_any()
                    }}
                }
            })}
        </section>
        {if owner {
            view! {
                <ActionForm action=delete attr:class="inline-form">
                    <input type="hidden" name="id" value=nid/>
                    <button type="submit" class="btn btn-danger small">"Delete this network"</button>
                </ActionForm>
                <ActionError value=delete.value()/>
            }.into_any()
        } else {
            view! {
                <ActionForm action=leave attr:class="inline-form">
                    <input type="hidden" name="id" value=nid/>
                    <button type="submit" class="btn btn-danger small" data-testid="leave-network">"Leave this network"</button>
                </ActionForm>
                <ActionError value=leave.value()/>
            }.into_any()
        }}
    }
}

/// `/mesh/invite?code=…`: what the mailed link opens.
#[component]
pub fn MeshInvitePage() -> impl IntoView {
    let query = use_query_map();
    let code = move || query.read().get("code").unwrap_or_default();
    let accept = ServerAction::<AcceptInvite>::new();
    let signup = ServerAction::<SignupWithInvite>::new();
    let data = Resource::new(code, preview_invite);
    view! {
        <Title text="Invitation — TrueVault"/>
        <h1>"Mesh network invitation"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Checking the invitation…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <p class="notice error" data-testid="invite-error" data-code=e.code()>{error_text(&e)}</p> }.into_any(),
                Ok(p) => {
                    let c = code();
                    let head = view! {
                        <p data-testid="invite-summary">{format!("{} invited {} to join \"{}\" as {}.", p.invited_by, p.email, p.network_name, p.role.label().to_lowercase())}</p>
                    };
                    let body = match p.state {
                        InviteState::Used => view! { <p class="notice error" data-testid="invite-used">"This invitation has already been used. Ask for a new one if you still need to join."</p> }.into_any(),
                        InviteState::Expired => view! { <p class="notice error" data-testid="invite-expired">{format!("This invitation expired on {}. Ask {} for a new one.", format_time(p.expires_at), p.invited_by)}</p> }.into_any(),
                        InviteState::Revoked => view! { <p class="notice error" data-testid="invite-revoked">"This invitation was withdrawn."</p> }.into_any(),
                        InviteState::Pending if p.already_member => view! { <p class="notice" data-testid="invite-already">"You are already a member of this network. "<a href="/mesh">"Open your networks"</a></p> }.into_any(),
                        InviteState::Pending => match p.signed_in_as.clone() {
                            Some(me) if !me.eq_ignore_ascii_case(&p.email) => view! {
                                <p class="notice error" data-testid="invite-not-for-you">{format!("You are signed in as {me}, but this invitation is for {}. Sign out and sign in with that address (or create an account for it) to accept.", p.email)}</p>
                            }.into_any(),
                            Some(_) => view! {
                                <ActionForm action=accept attr:class="form">
                                    <input type="hidden" name="code" value=c.clone()/>
                                    <button type="submit" class="btn btn-primary" data-testid="accept-invite">"Join the network"</button>
                                </ActionForm>
                                <ActionError value=accept.value()/>
                                {move || accept.value().get().and_then(|r| r.ok()).map(|id| view! {
                                    <p class="notice success" data-testid="invite-accepted">"You joined. "<a href=format!("/mesh/{id}")>"Open the network"</a></p>
                                })}
                            }.into_any(),
                            None if p.account_exists => view! {
                                <p class="notice">"You have a TrueVault account for this address. "<a href="/login" rel="external">"Sign in"</a>", then open the link in the e-mail again to join."</p>
                            }.into_any(),
                            None => view! {
                                <h2>"Create your account and join"</h2>
                                <ActionForm action=signup attr:class="form">
                                    <input type="hidden" name="code" value=c.clone()/>
                                    <label>"E-mail"<input type="email" value=p.email.clone() disabled=true/></label>
                                    <label>"First name"<input type="text" name="first_name" maxlength="100" autocomplete="given-name"/></label>
                                    <label>"Password"<input type="password" name="password" required minlength="10" maxlength="128" autocomplete="new-password"/></label>
                                    <button type="submit" class="btn btn-primary" data-testid="signup-join">"Create account and join"</button>
                                </ActionForm>
                                <ActionError value=signup.value()/>
                                {move || signup.value().get().and_then(|r| r.ok()).map(|id| view! {
                                    <p class="notice success" data-testid="invite-accepted">"Welcome! You joined. "<a href=format!("/mesh/{id}") rel="external">"Open the network"</a></p>
                                })}
                            }.into_any(),
                        },
                    };
                    view! { {head} {body} }.into_any()
                }
            })}
        </Suspense>
    }
}

/// The dashboard's card: the user's networks at a glance (the dashboard
/// owns the resource, see `dashboard::CardData`).
#[component]
pub fn MeshCard(
    data: Resource<Result<crate::mesh::model::NetworksPage, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <article class="card" data-testid="mesh-card">
            <h2>"Mesh networks"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { data.await.ok().map(|p| {
                    if p.networks.is_empty() {
                        let hint = if p.can_create {
                            "Create a private network for your family or team and share home devices with it."
                        } else {
                            "Join a network someone invites you to; the Family and Business plans create their own."
                        };
                        view! { <p class="muted">{hint}</p> }.into_any()
                    } else {
                        view! {
                            <ul class="plain">
                                {p.networks.iter().map(|n| view! {
                                    <li><a href=format!("/mesh/{}", n.id)>{n.name.clone()}</a>{format!(" — {}, {} shared, you are {}", plural(n.members, "member", "members"), n.shares, n.my_role.label().to_lowercase())}</li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                }) })}
            </Suspense>
            <a class="btn btn-primary" href="/mesh">"Open mesh networks"</a>
        </article>
    }
}
