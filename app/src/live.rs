//! Live updates for open pages: Server-Sent Events at `GET /live/events`
//! (on the session cookie), fed by the node stats reports. Events go
//! through one bus per instance. On SQLite (one instance) publishing hands
//! them straight to this instance's streams; on PostgreSQL every instance
//! publishes with `NOTIFY truevault_live` and delivers only what its own
//! `LISTEN` receives, so an event on one instance reaches pages served by
//! any other (and each page gets it once).

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::header,
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::get,
    Extension, Router,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::{db::Db, error::AppError, http::context::RequestContext, state::AppState};

/// The PostgreSQL channel every instance listens on.
pub const CHANNEL: &str = "truevault_live";

/// NOTIFY payloads must stay under 8,000 bytes: events go in JSON arrays
/// of at most this size.
const NOTIFY_BYTES: usize = 7_000;

/// Events one slow page may fall behind by before it skips (it then gets
/// the next ones; the page's numbers are totals, so nothing is lost for
/// good).
const BUFFER: usize = 4_096;

/// What changed, as an open page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveUpdate {
    /// A device's state from its node's latest stats report.
    Device {
        id: i64,
        connected: bool,
        last_handshake_at: Option<i64>,
        rx_bytes: i64,
        tx_bytes: i64,
        /// Bytes per second over the last report interval.
        rx_rate: i64,
        tx_rate: i64,
    },
}

impl LiveUpdate {
    /// The SSE event name (`event:` line) pages listen for.
    pub fn event_name(&self) -> &'static str {
        match self {
            LiveUpdate::Device { .. } => "device",
        }
    }
}

/// One update and whose pages it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub user_id: i64,
    pub update: LiveUpdate,
}

#[derive(Clone)]
pub struct LiveBus {
    tx: broadcast::Sender<Arc<LiveEvent>>,
    via_postgres: bool,
}

impl LiveBus {
    pub fn new(via_postgres: bool) -> Self {
        let (tx, _) = broadcast::channel(BUFFER);
        LiveBus { tx, via_postgres }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }

    /// Open streams on this instance.
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }

    fn deliver(&self, event: LiveEvent) {
        // No open page is not an error.
        let _ = self.tx.send(Arc::new(event));
    }

    /// Sends `events` to every instance's open pages. A failure is logged
    /// and dropped: live updates are a view, the database holds the truth.
    pub async fn publish(&self, db: &Db, events: Vec<LiveEvent>) {
        if events.is_empty() {
            return;
        }
        if !self.via_postgres {
            for e in events {
                self.deliver(e);
            }
            return;
        }
        for payload in notify_payloads(&events) {
            if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(&payload)
                .execute(&db.pool)
                .await
            {
                tracing::warn!(error = %e, "live: NOTIFY failed");
            }
        }
    }

    /// PostgreSQL: LISTEN (before returning, so nothing published after
    /// start-up is missed) and hand what arrives to this instance's pages.
    pub async fn listen(&self, database_url: &str) -> Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect(database_url).await?;
        listener.listen(CHANNEL).await?;
        let bus = self.clone();
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection.
                match listener.recv().await {
                    Ok(n) => match serde_json::from_str::<Vec<LiveEvent>>(n.payload()) {
                        Ok(events) => events.into_iter().for_each(|e| bus.deliver(e)),
                        Err(e) => tracing::warn!(error = %e, "live: unreadable notification"),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "live: LISTEN connection lost");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(())
    }
}

/// `events` as JSON arrays, each under [`NOTIFY_BYTES`].
fn notify_payloads(events: &[LiveEvent]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 2;
    for e in events {
        let Ok(json) = serde_json::to_string(e) else {
            continue;
        };
        if !current.is_empty() && size + json.len() + 1 > NOTIFY_BYTES {
            out.push(format!("[{}]", current.join(",")));
            current.clear();
            size = 2;
        }
        size += json.len() + 1;
        current.push(json);
    }
    if !current.is_empty() {
        out.push(format!("[{}]", current.join(",")));
    }
    out
}

pub const LIVE_JS: &str = include_str!("live.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/live/events", get(events))
        .route("/live/live.js", get(live_js))
}

async fn live_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        LIVE_JS,
    )
        .into_response()
}

/// The signed-in user's updates as they happen. The stream ends when the
/// portal stops (the page's EventSource reconnects to another instance).
async fn events(State(state): State<AppState>, ctx: Option<Extension<RequestContext>>) -> Response {
    let Some(user) = ctx.and_then(|Extension(c)| c.user) else {
        return AppError::Unauthenticated.into_response();
    };
    let user_id = user.id;
    let rx = state.live.subscribe();
    let stopping = state.stopping.clone();
    let stream = futures::stream::unfold((rx, stopping), move |(mut rx, stopping)| async move {
        loop {
            let next = tokio::select! {
                next = rx.recv() => next,
                _ = stopping.wait() => return None,
            };
            match next {
                Ok(e) if e.user_id == user_id => {
                    let event = Event::default()
                        .event(e.update.event_name())
                        .json_data(&e.update)
                        .unwrap_or_default();
                    return Some((Ok::<_, Infallible>(event), (rx, stopping)));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_payloads_stay_under_the_limit_and_keep_every_event() {
        let events: Vec<LiveEvent> = (0..500)
            .map(|i| LiveEvent {
                user_id: i,
                update: LiveUpdate::Device {
                    id: i,
                    connected: true,
                    last_handshake_at: Some(1_700_000_000),
                    rx_bytes: i64::MAX,
                    tx_bytes: i64::MAX,
                    rx_rate: 1,
                    tx_rate: 2,
                },
            })
            .collect();
        let payloads = notify_payloads(&events);
        assert!(payloads.len() > 1);
        let mut back = Vec::new();
        for p in &payloads {
            assert!(p.len() < NOTIFY_BYTES, "{}", p.len());
            back.extend(serde_json::from_str::<Vec<LiveEvent>>(p).unwrap());
        }
        assert_eq!(back, events);
    }
}
