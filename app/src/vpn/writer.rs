//! Device creations through one writer task with group commit.
//!
//! Every creation's write part (plan check, address allocation, the row,
//! the audit entry, the server's new desired version) used to be its own
//! `BEGIN IMMEDIATE` transaction. SQLite has one writer, so under load the
//! others slept in the busy handler's back-off while the lock stood free,
//! and each paid a commit. Here one task takes whatever creations are
//! queued (up to [`MAX_BATCH`]), runs them one after another inside one
//! write transaction, each in its own savepoint, and commits once:
//!
//! - each creation still succeeds or fails alone: a refused or failed one
//!   is rolled back to its savepoint and the rest go on;
//! - limits stay exact: the batch's creations run in order in one
//!   transaction, each seeing the ones before it;
//! - nobody hears "created" before the commit that stores it: answers are
//!   sent after `COMMIT` returns, and a failed commit fails the whole batch.
//!
//! The batch bumps each touched server's peers version once and wakes the
//! nodes once. On PostgreSQL (several portal instances may write) the batch
//! first locks its users' rows in id order, and runs its creations in
//! server order, so two batches, or a batch and a single-row writer, never
//! wait on each other in a circle.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};

use super::{
    model::{ServerId, TunnelMode},
    repo::{self, Tx},
};
use crate::{
    audit,
    db::{Db, Engine, UniqueKey},
    entitlements::Entitlements,
    error::{AppError, AppResult},
};

/// The most creations one transaction holds: enough to absorb a burst,
/// small enough that a batch holds the write lock for milliseconds, and
/// within PostgreSQL's 64 cached subtransactions per transaction (each
/// creation's savepoint is one).
pub const MAX_BATCH: usize = 64;

/// A device's public key is unique across all servers.
pub const DEVICE_KEY: UniqueKey = UniqueKey {
    postgres: "devices_public_key_key",
    sqlite: "devices.public_key",
};
/// One identity per user and region (a partial index).
const DEVICE_IDENTITY: UniqueKey = UniqueKey {
    postgres: "devices_identity",
    sqlite: "devices.user_id, devices.identity_region",
};

/// One creation's write part, everything already checked and chosen.
pub struct Creation {
    pub user_id: i64,
    pub server_id: ServerId,
    pub name: String,
    pub public_key: String,
    pub psk_sealed: String,
    /// The pools' highest indexes (`v6_max` when the server has IPv6).
    pub v4_max: i64,
    pub v6_max: Option<i64>,
    pub identity_region: Option<String>,
    pub tunnel_mode: TunnelMode,
    /// The row reserves a server and address for a key made later.
    pub awaiting_key: bool,
}

/// What a stored creation got.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    pub id: i64,
    pub v4_index: i64,
    pub v6_index: Option<i64>,
}

type Job = (Creation, oneshot::Sender<AppResult<Stored>>);

/// The handle requests use; the task stops when the last handle goes.
#[derive(Clone)]
pub struct DeviceWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl DeviceWriter {
    /// Starts the writer task on `db`; `node_changes` is woken after each
    /// commit that stored a device.
    pub fn start(db: Db, node_changes: Arc<Notify>) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, node_changes, rx));
        Self { jobs }
    }

    /// Queues a creation and waits for its commit (or its refusal).
    pub async fn create(&self, creation: Creation) -> AppResult<Stored> {
        let (done, result) = oneshot::channel();
        self.jobs
            .send((creation, done))
            .map_err(|_| AppError::internal("the device writer has stopped"))?;
        result
            .await
            .map_err(|_| AppError::internal("the device writer dropped a creation"))?
    }
}

async fn run(db: Db, node_changes: Arc<Notify>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        let n = jobs.len();
        let (results, stored_any) = match write_batch(&db, jobs).await {
            Ok(done) => done,
            Err((e, senders)) => {
                // Nothing of this batch is stored: everyone hears it.
                for done in senders {
                    let _ = done.send(Err(e.clone()));
                }
                continue;
            }
        };
        if stored_any {
            node_changes.notify_waiters();
        }
        tracing::debug!(batch = n, "device creations committed");
        for (done, result) in results {
            let _ = done.send(result);
        }
    }
}

type Answers = Vec<(oneshot::Sender<AppResult<Stored>>, AppResult<Stored>)>;

/// Runs one batch in one transaction. On a transaction-level failure
/// (begin, lock, commit) returns the error with every waiting sender.
async fn write_batch(
    db: &Db,
    mut jobs: Vec<Job>,
) -> Result<(Answers, bool), (AppError, Vec<oneshot::Sender<AppResult<Stored>>>)> {
    // Server order (stable, so one user's creations keep their order).
    jobs.sort_by_key(|(c, _)| c.server_id);
    let mut tx = match db.begin_write().await {
        Ok(tx) => tx,
        Err(e) => return Err((e.into(), jobs.into_iter().map(|(_, d)| d).collect())),
    };
    if let Err(e) = lock_users(db, &mut tx, &jobs).await {
        return Err((e.into(), jobs.into_iter().map(|(_, d)| d).collect()));
    }
    let mut batch = BatchState {
        postgres: db.engine == Engine::Postgres,
        ..BatchState::default()
    };
    let mut answers: Answers = Vec::with_capacity(jobs.len());
    // One savepoint statement per creation: a refused one rolls back to
    // the savepoint, which stays for the next; a stored one is kept by
    // opening the next savepoint after it (nested, released by the commit).
    let mut ready = savepoint(&mut tx, "SAVEPOINT creation").await;
    for (creation, done) in jobs {
        let result = match ready {
            Ok(()) => {
                let r = create_one(&mut tx, &mut batch, &creation).await;
                let next = if r.is_ok() {
                    "SAVEPOINT creation"
                } else {
                    "ROLLBACK TO SAVEPOINT creation"
                };
                ready = savepoint(&mut tx, next).await;
                match &ready {
                    Ok(()) => r,
                    // Not kept apart from the next creation: not stored.
                    Err(_) => Err(AppError::internal("savepoint failed")),
                }
            }
            Err(ref e) => Err(AppError::internal(e)),
        };
        if result.is_ok() {
            batch.touched.insert(creation.server_id);
        }
        answers.push((done, result));
    }
    if let Err(e) = ready {
        // The transaction is in an unknown state: store none of it.
        return Err((e.into(), answers.into_iter().map(|(d, _)| d).collect()));
    }
    let mut touched: Vec<ServerId> = batch.touched.iter().copied().collect();
    touched.sort();
    match finish(tx, &touched).await {
        Ok(()) => Ok((answers, !touched.is_empty())),
        Err(e) => Err((e.into(), answers.into_iter().map(|(d, _)| d).collect())),
    }
}

/// Each touched server's new desired version, then the one commit.
async fn finish(mut tx: Tx, touched: &[ServerId]) -> Result<(), sqlx::Error> {
    for server_id in touched {
        repo::bump_version(&mut tx, *server_id).await?;
    }
    tx.commit().await
}

/// A savepoint statement, unprepared (it has no arguments).
async fn savepoint(tx: &mut Tx, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::Executor::execute(&mut **tx, sql).await.map(|_| ())
}

/// PostgreSQL: the batch's users locked up front, in id order (SQLite's
/// single writer already serialises).
async fn lock_users(db: &Db, tx: &mut Tx, jobs: &[Job]) -> Result<(), sqlx::Error> {
    if db.engine != Engine::Postgres {
        return Ok(());
    }
    let mut ids: Vec<i64> = jobs.iter().map(|(c, _)| c.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let list = (1..=ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!("SELECT id FROM users WHERE id IN ({list}) ORDER BY id FOR UPDATE");
    let mut q = sqlx::query(&sql);
    for id in &ids {
        q = q.bind(id);
    }
    q.fetch_all(&mut **tx).await.map(|_| ())
}

/// What the batch has learnt so far: plans do not change inside it, and a
/// free list found empty stays empty (only removals fill it, and on SQLite
/// they wait for this transaction; on PostgreSQL one missed is reused by a
/// later creation).
#[derive(Default)]
struct BatchState {
    entitlements: HashMap<i64, Entitlements>,
    no_free: HashSet<(ServerId, i64)>,
    touched: HashSet<ServerId>,
    postgres: bool,
    locked_tenants: HashSet<i64>,
}

async fn create_one(tx: &mut Tx, batch: &mut BatchState, c: &Creation) -> AppResult<Stored> {
    let entitled = match batch.entitlements.get(&c.user_id) {
        Some(e) => e.clone(),
        None => {
            let e = Entitlements::for_user(&mut **tx, c.user_id).await?;
            batch.entitlements.insert(c.user_id, e.clone());
            e
        }
    };
    let identity = c.identity_region.is_some();
    let limit = if identity {
        entitled.identities
    } else {
        entitled.devices
    };
    if let Some(max) = limit.max() {
        if !limit.allows_another(repo::count_user_peers(tx, c.user_id, identity).await?) {
            return Err(if identity {
                AppError::IdentityLimitExceeded(max)
            } else {
                AppError::DeviceLimitExceeded(max)
            });
        }
    }
    // A tenant's user: the tenant's device limit counts all its users'
    // devices (its row is locked with the batch's users on PostgreSQL).
    if let Some(t) = entitled.tenant.filter(|_| !identity) {
        if let Some(max) = t.devices.max() {
            // Its row locked after the users' (the order every writer takes
            // them in); consumers' creations run no statement for this.
            if batch.postgres && batch.locked_tenants.insert(t.tenant_id) {
                sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
                    .bind(t.tenant_id)
                    .execute(&mut **tx)
                    .await?;
            }
            if !t
                .devices
                .allows_another(crate::tenants::repo::count_devices(tx, t.tenant_id).await?)
            {
                return Err(AppError::DeviceLimitExceeded(max));
            }
        }
    }
    let v4_index = allocate(tx, batch, c.server_id, 4, c.v4_max).await?;
    let v6_index = match c.v6_max {
        Some(max) => Some(allocate(tx, batch, c.server_id, 6, max).await?),
        None => None,
    };
    let id = repo::insert_device(
        tx,
        c.user_id,
        c.server_id,
        &c.name,
        &c.public_key,
        &c.psk_sealed,
        v4_index,
        v6_index,
        c.identity_region.as_deref(),
        c.tunnel_mode,
        c.awaiting_key,
    )
    .await
    .map_err(|e| {
        if DEVICE_KEY.broken_by(&e) {
            AppError::KeyInUse
        } else if DEVICE_IDENTITY.broken_by(&e) {
            AppError::Conflict("You already have an identity in that region.".into())
        } else {
            AppError::from(e)
        }
    })?;
    audit::record_in(
        tx,
        Some(c.user_id),
        "device.created",
        &c.name,
        &format!("server {} key {}", c.server_id, &c.public_key),
    )
    .await?;
    Ok(Stored {
        id,
        v4_index,
        v6_index,
    })
}

async fn allocate(
    tx: &mut Tx,
    batch: &mut BatchState,
    server_id: ServerId,
    family: i64,
    max: i64,
) -> AppResult<i64> {
    let key = (server_id, family);
    if !batch.no_free.contains(&key) {
        match repo::take_freed_index(tx, server_id, family).await? {
            Some(idx) => return Ok(idx),
            None => {
                batch.no_free.insert(key);
            }
        }
    }
    repo::next_index(tx, server_id, family, max)
        .await?
        .ok_or(AppError::NetworkFull)
}
