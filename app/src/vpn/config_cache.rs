//! The desired config of each node, built once per peers version.
//!
//! Building it opens every peer's sealed preshared key. Every node's
//! long-poll answers with it, and a burst of device changes wakes them all
//! together: without the cache each waiting node (and each of its retries)
//! would decrypt the whole peer set again. A version names the peer set
//! exactly, so a config for the same server and version is the same config.
//! Building is single-flight per server: nodes woken together wait for one
//! build instead of each starting their own.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use truevault_wire::node::DesiredConfig;

use super::model::ServerId;

type Slot = Arc<tokio::sync::Mutex<Option<(i64, Arc<DesiredConfig>)>>>;

#[derive(Clone, Default)]
pub struct ConfigCache {
    servers: Arc<Mutex<HashMap<ServerId, Slot>>>,
    hits: Arc<AtomicU64>,
    builds: Arc<AtomicU64>,
}

impl ConfigCache {
    /// The config of `server_id` at `version`: the cached one, else built by
    /// `build` (which must build exactly that version's config) and kept.
    pub async fn get_or_build<E, F>(
        &self,
        server_id: ServerId,
        version: i64,
        build: F,
    ) -> Result<Arc<DesiredConfig>, E>
    where
        F: Future<Output = Result<DesiredConfig, E>>,
    {
        let slot = {
            let Ok(mut map) = self.servers.lock() else {
                return build.await.map(Arc::new);
            };
            map.entry(server_id).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some((v, cfg)) = slot.as_ref() {
            if *v == version {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(cfg.clone());
            }
        }
        let cfg = Arc::new(build.await?);
        self.builds.fetch_add(1, Ordering::Relaxed);
        *slot = Some((version, cfg.clone()));
        Ok(cfg)
    }

    /// Answers served from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Configs built (peer keys decrypted) so far.
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }
}
