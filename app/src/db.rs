//! The database: one `sqlx::AnyPool` over SQLite (default, one host) or
//! PostgreSQL (several portal instances). Queries use `$n` placeholders and
//! portable SQL so they run unchanged on both; the schema lives in per-engine
//! migrations side by side under `migrations/`.

use std::{str::FromStr, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
    AnyPool, Executor,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub engine: Engine,
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        };
        let url = if engine == Engine::Sqlite {
            ensure_sqlite_dir(url);
            sqlite_create_mode(url)
        } else {
            url.to_string()
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // A SQLite connection is a local file that cannot go stale; the
            // ping before each use was a second round trip to the
            // connection's worker thread for every statement (the dashboard
            // spent most of its time switching threads).
            .test_before_acquire(engine == Engine::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers run beside the writer; the busy
                        // timeout makes writers queue instead of failing.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                             PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, engine })
    }

    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await,
            Engine::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await,
        }
    }

    /// A transaction that will write. SQLite starts it `IMMEDIATE`, so a
    /// writer waits on the busy timeout up front instead of failing when a
    /// read lock would have to be upgraded (an in-process FIFO queue was
    /// measured too: tighter tail, half the throughput); PostgreSQL callers
    /// lock the rows they depend on with [`Db::lock_row`].
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
    }

    /// Locks a row for the rest of a write transaction on PostgreSQL
    /// (`SELECT … FOR UPDATE`); SQLite's single writer already serialises.
    pub async fn lock_row(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        table: &str,
        id: i64,
    ) -> Result<(), sqlx::Error> {
        if self.engine == Engine::Postgres {
            sqlx::query(&format!("SELECT id FROM {table} WHERE id = $1 FOR UPDATE"))
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// A `sqlite://` URL that does not say otherwise creates its file, as the
/// default URL does (SQLite's default mode only opens existing files).
fn sqlite_create_mode(url: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    if query.split('&').any(|kv| kv.starts_with("mode=")) || url.contains(":memory:") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}mode=rwc")
}

fn ensure_sqlite_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            let _ = std::fs::create_dir_all(parent);
        }
    }
}

/// Current UTC time as unix seconds, the unit every timestamp column uses.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// True when a database error is a uniqueness violation (both engines).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db.message().contains("UNIQUE constraint failed")
                || db.code().as_deref() == Some("23505")
        }
        _ => false,
    }
}

/// A unique key as each engine names it in a violation: PostgreSQL by the
/// constraint (or index) name, SQLite by the columns it lists.
pub struct UniqueKey {
    pub postgres: &'static str,
    pub sqlite: &'static str,
}

impl UniqueKey {
    /// True when `err` is a uniqueness violation of this key.
    pub fn broken_by(&self, err: &sqlx::Error) -> bool {
        let sqlx::Error::Database(db) = err else {
            return false;
        };
        if !is_unique_violation(err) {
            return false;
        }
        match db.constraint() {
            Some(name) => name == self.postgres,
            None => db
                .message()
                .strip_prefix("UNIQUE constraint failed: ")
                .is_some_and(|cols| cols == self.sqlite),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_creates_its_file_unless_it_says_otherwise() {
        assert_eq!(
            sqlite_create_mode("sqlite://data/x.db"),
            "sqlite://data/x.db?mode=rwc"
        );
        assert_eq!(
            sqlite_create_mode("sqlite://data/x.db?cache=shared"),
            "sqlite://data/x.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            sqlite_create_mode("sqlite://x.db?mode=ro"),
            "sqlite://x.db?mode=ro"
        );
        assert_eq!(sqlite_create_mode("sqlite::memory:"), "sqlite::memory:");
    }
}
