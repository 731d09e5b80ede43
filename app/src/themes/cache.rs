//! Rendered theme CSS, cached per slug so a page view costs no query. The
//! admin's edits clear it at once on this instance; other instances (on
//! PostgreSQL) see them within the TTL.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use super::{model::render_css, repo};
use crate::db::Db;

const TTL: Duration = Duration::from_secs(2);
const ACTIVE: &str = "";

/// Rendered CSS per theme slug, with the time it was rendered.
type Entries = HashMap<String, (Instant, Arc<str>)>;

#[derive(Clone, Default)]
pub struct ThemeCache {
    inner: Arc<RwLock<Entries>>,
}

impl ThemeCache {
    /// CSS for the user's chosen published theme, else the active theme.
    pub async fn css(&self, db: &Db, chosen: Option<&str>) -> Arc<str> {
        if let Some(slug) = chosen {
            if let Some(css) = self.lookup(db, slug).await {
                return css;
            }
        }
        self.lookup(db, ACTIVE)
            .await
            .unwrap_or_else(|| Arc::from(""))
    }

    async fn lookup(&self, db: &Db, key: &str) -> Option<Arc<str>> {
        if let Ok(map) = self.inner.read() {
            if let Some((at, css)) = map.get(key) {
                if at.elapsed() < TTL {
                    return Some(css.clone());
                }
            }
        }
        let slug = (key != ACTIVE).then_some(key);
        let theme = match repo::find_for_render(db, slug).await {
            Ok(t) => t?,
            Err(e) => {
                tracing::warn!(error = %e, "could not load theme");
                return None;
            }
        };
        let css: Arc<str> = Arc::from(render_css(&theme.variables));
        if let Ok(mut map) = self.inner.write() {
            map.insert(key.to_string(), (Instant::now(), css.clone()));
        }
        Some(css)
    }

    pub fn invalidate(&self) {
        if let Ok(mut map) = self.inner.write() {
            map.clear();
        }
    }
}
