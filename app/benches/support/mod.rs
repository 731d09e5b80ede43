//! What the bench binaries share: a running portal on a fresh database, a
//! SQLite file by default or a new PostgreSQL database when
//! `TRUEVAULT_BENCH_PG_URL` names a server.

use truevault::{config::Config, startup::Application, state::AppState};

/// Starts a portal on port 0 (`name` tells its files and database apart);
/// `customize` sees the config last, with `database_url` already set when
/// the run is on PostgreSQL.
pub async fn app(name: &str, customize: impl FnOnce(&mut Config)) -> AppState {
    let pid = std::process::id();
    let mut config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: std::env::temp_dir().join(format!("tv-bench-{name}-{pid}")),
        ..Config::default()
    };
    if let Ok(admin_url) = std::env::var("TRUEVAULT_BENCH_PG_URL") {
        let db = format!("tv_bench_{name}_{pid}");
        let admin = truevault::db::Db::connect(&admin_url, 1).await.expect("pg");
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&admin.pool)
            .await
            .expect("create db");
        let base = admin_url.rsplit_once('/').expect("url").0;
        config.database_url = Some(format!("{base}/{db}"));
    }
    customize(&mut config);
    let app = Application::build(config).await.expect("app");
    let state = app.state.clone();
    tokio::spawn(app.run_until(std::future::pending()));
    state
}
