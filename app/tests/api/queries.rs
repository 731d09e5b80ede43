//! Statements per page view: a page must not grow queries silently (the
//! dashboard once ran every card's queries three times). Counts, not
//! timings: sqlx reports each statement it runs as a `sqlx::query` tracing
//! event, on both engines, and a process-wide layer counts them.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    OnceLock,
};

use tracing::{field::Field, Event, Subscriber};
use tracing_subscriber::{layer::Context, prelude::*, Layer};

use crate::helpers::*;

static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

/// Counts `sqlx::query` events, leaving out the per-connection PRAGMAs a
/// new pool connection runs (set-up, not the page's work).
struct CountStatements;

struct Summary(bool);

impl tracing::field::Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.0 = value.trim_start().starts_with("PRAGMA");
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = format!("{value:?}")
                .trim_start_matches('"')
                .starts_with("PRAGMA");
        }
    }
}

impl<S: Subscriber> Layer<S> for CountStatements {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut pragma = Summary(false);
        event.record(&mut pragma);
        if !pragma.0 {
            STATEMENTS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn install_counter() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let layer = CountStatements.with_filter(tracing_subscriber::filter::filter_fn(|m| {
            m.target() == "sqlx::query"
        }));
        tracing_subscriber::registry()
            .with(layer)
            .try_init()
            .expect("the statement counter is this process's only subscriber");
    });
}

/// Statements one view of `path` runs. The job worker shares the process
/// and queries once a second, so the page is viewed a few times and the
/// smallest count kept: background work only ever adds.
async fn statements_for(app: &TestApp, client: &reqwest::Client, path: &str) -> usize {
    let mut fewest = usize::MAX;
    for _ in 0..5 {
        let before = STATEMENTS.load(Ordering::SeqCst);
        let res = app.get(client, path).await;
        assert!(res.status().is_success(), "{path}: {}", res.status());
        crate::helpers::read_body(res, path).await;
        fewest = fewest.min(STATEMENTS.load(Ordering::SeqCst) - before);
    }
    fewest
}

#[tokio::test]
async fn pages_do_not_grow_queries() {
    install_counter();
    let app = TestApp::spawn().await;
    let client = app.signed_in_user("queries@example.com").await;
    let anonymous = new_client();
    // Budgets are today's counts: lower one when a page gets cheaper, and
    // raise one only with a reason (a new card is a new query, not three).
    // Network, cameras and billing still create their resources inside
    // `RequireUser`'s Suspend, so the SSR's re-walks of it repeat their
    // loads: up to three walks, fewer when the loads finish early, so their
    // budgets are the session lookup plus three walks' worth (the
    // dashboard's and mesh's fix, resources made outside the guard, would
    // bring each to about a third). Per engine: SQLite, PostgreSQL (the
    // mesh overview runs one statement more there).
    let budgets: &[(&str, &reqwest::Client, usize, usize)] = &[
        ("/", &anonymous, 0, 0),
        ("/login", &anonymous, 0, 0),
        ("/pricing", &anonymous, 1, 1),
        // 11 before the certificates card, which adds its plan check and one count.
        ("/dashboard", &client, 13, 14),
        ("/devices", &client, 7, 7),
        ("/network", &client, 16, 16),
        ("/cameras", &client, 13, 13),
        ("/billing", &client, 16, 16),
        // 7 and 10 while its resources were made inside the guard.
        ("/mesh", &client, 3, 4),
        // 10 before the API keys card: its keys and the plan's scopes, loaded
        // once (made outside RequireUser, like the dashboard's cards); 12
        // before the developer card's tenant lookup (one statement for an
        // account that runs no tenant, loaded once the same way).
        ("/account", &client, 13, 13),
    ];
    let mut over = Vec::new();
    let on_pg = app.state.db.engine == truevault::db::Engine::Postgres;
    for (path, client, sqlite, pg) in budgets {
        let budget = if on_pg { pg } else { sqlite };
        let n = statements_for(&app, client, path).await;
        eprintln!("{path}: {n} statements (budget {budget})");
        if n > *budget {
            over.push(format!("{path}: {n} > {budget}"));
        }
    }
    assert!(over.is_empty(), "pages over their query budget: {over:?}");
}

/// Statements one device creation runs (a VIP on an enrolled server: no
/// limit count), from the session lookup to the answer. Creations made one
/// at a time, so each is a batch of its own: under load the writer's batch
/// shares its begin, version bump and commit, and the plan and free-list
/// reads, among many.
#[tokio::test]
async fn a_device_creation_does_not_grow_statements() {
    install_counter();
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    crate::vpn::server_with_node(&app, &admin, "eu-1", "10.90.0.0/16").await;
    let user = app.signed_in_user("creator@example.com").await;
    let res = app
        .post_form(
            &admin,
            "/api/admin/vip",
            &[("email", "creator@example.com"), ("vip", "true")],
        )
        .await;
    assert!(res.status().is_success());
    let mut fewest = usize::MAX;
    for n in 0..5 {
        let before = STATEMENTS.load(Ordering::SeqCst);
        let name = format!("phone {n}");
        let res = app
            .post_form(
                &user,
                "/api/devices/create",
                &[
                    ("name", name.as_str()),
                    ("public_key", ""),
                    ("server_id", ""),
                    ("region", ""),
                ],
            )
            .await;
        assert!(res.status().is_success(), "{}", res.status());
        crate::helpers::read_body(res, "/api/devices/create").await;
        fewest = fewest.min(STATEMENTS.load(Ordering::SeqCst) - before);
    }
    // Today's counts: the session, the user's sites and the servers; then
    // the batch's begin, plan, IPv4 and IPv6 (free list and counter each),
    // the row, the audit entry, two savepoints, the version bump and the
    // commit. PostgreSQL adds the users' row lock.
    let budget = if app.state.db.engine == truevault::db::Engine::Postgres {
        16
    } else {
        14
    };
    eprintln!("device creation: {fewest} statements (budget {budget})");
    assert!(fewest <= budget, "{fewest} > {budget}");
}
