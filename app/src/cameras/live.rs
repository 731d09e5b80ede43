//! The viewers' side of live view, on the session cookie:
//! `GET /cameras/{id}/live` (WebSocket: binary fMP4 — init segment, then
//! fragments — and small JSON status texts), `GET /cameras/{id}/snapshot`
//! (a JPEG proxied through the gateway) and `GET /cameras/player.js` (the
//! Media Source Extensions player, a same-origin script the CSP allows).

use std::time::Duration;

use axum::{
    extract::{
        ws::{rejection::WebSocketUpgradeRejection, Message, WebSocket, WebSocketUpgrade},
        Path, Query, State,
    },
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Extension, Router,
};
use truevault_relay::ViewerItem;
use truevault_wire::gateway::StreamErrorCode;

use super::{
    model::{Camera, StreamKind},
    repo,
};
use crate::{
    error::AppError,
    http::{context::RequestContext, security::same_origin},
    state::AppState,
};

/// The player sends nothing but closes; anything bigger is abuse.
const MAX_VIEWER_MESSAGE: usize = 1024;
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(10);
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a live view re-checks its session: signed out, revoked, reset
/// or suspended (on any portal instance), the stream ends within this.
const SESSION_RECHECK: Duration = Duration::from_secs(2);

pub const PLAYER_JS: &str = include_str!("player.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cameras/player.js", get(player_js))
        .route("/cameras/{id}/live", get(live))
        .route("/cameras/{id}/snapshot", get(snapshot))
        .route("/cameras/{id}/events/{event}/thumbnail", get(thumbnail))
}

async fn player_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        PLAYER_JS,
    )
        .into_response()
}

/// The signed-in user's camera (own, or shared with them: then their id
/// comes along), or the refusal to send.
async fn owned_camera(
    state: &AppState,
    ctx: Option<&RequestContext>,
    id: &str,
) -> Result<(Camera, Option<i64>), Response> {
    let user = ctx
        .and_then(|c| c.user.clone())
        .ok_or_else(|| AppError::Unauthenticated.into_response())?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound.into_response())?;
    // Someone else's camera reads exactly like a missing one, unless it is
    // shared with the user through a mesh network (any access level).
    match repo::find_camera(&state.db, user.id, id).await {
        Ok(Some(c)) => Ok((c, None)),
        Ok(None) => match crate::mesh::service::viewable_camera(&state.db, user.id, id).await {
            Ok(Some(c)) => Ok((c, Some(user.id))),
            Ok(None) => Err(AppError::NotFound.into_response()),
            Err(e) => Err(e.into_response()),
        },
        Err(e) => Err(AppError::from(e).into_response()),
    }
}

/// `?stream=sub|main`; anything else, or a camera without a sub stream,
/// plays the main stream.
#[derive(Debug, Default, serde::Deserialize)]
struct LiveQuery {
    #[serde(default)]
    stream: Option<String>,
}

async fn live(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<LiveQuery>,
    ctx: Option<Extension<RequestContext>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // Cookies ride along on cross-site WebSocket handshakes: only our own
    // pages may open one (checked before anything else is revealed).
    if !same_origin(&headers, &state.config) {
        tracing::warn!(camera = %id, "refused cross-origin camera WebSocket");
        return (StatusCode::FORBIDDEN, "Cross-site WebSocket refused.").into_response();
    }
    let (camera, member) = match owned_camera(&state, ctx.as_deref(), &id).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let stream = camera.stream_for(
        query
            .stream
            .as_deref()
            .and_then(StreamKind::parse)
            .unwrap_or_default(),
    );
    let Some((session, user_id)) = ctx
        .as_deref()
        .and_then(|c| Some((c.session_hash()?, c.user.as_ref()?.id)))
    else {
        return AppError::Unauthenticated.into_response();
    };
    match repo::camera_in_service(&state.db, camera.id, user_id).await {
        Ok(true) => {}
        Ok(false) => {
            // The viewer's own reason when it is theirs, else the owner's
            // account is the one without service.
            return match crate::entitlements::service(&state.db.pool, user_id).await {
                Ok(crate::entitlements::Service::Off(why)) => AppError::ServiceOff(why),
                Ok(crate::entitlements::Service::On) => AppError::Forbidden,
                Err(e) => AppError::from(e),
            }
            .into_response();
        }
        Err(e) => return AppError::from(e).into_response(),
    }
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let max = state.config.max_live_viewers_per_user;
    let Some(slot) = state.cameras.viewers.take(user_id, max) else {
        tracing::info!(user_id, max, "live view refused: too many open");
        return AppError::LiveViewLimit(i64::from(max)).into_response();
    };
    upgrade
        .max_message_size(MAX_VIEWER_MESSAGE)
        .max_frame_size(MAX_VIEWER_MESSAGE)
        .on_upgrade(move |ws| async move {
            // Held for as long as the view runs.
            let _slot = slot;
            watch(
                state,
                camera,
                stream,
                session,
                user_id,
                member.is_some(),
                ws,
            )
            .await
        })
        .into_response()
}

fn status(state: &str, detail: Option<&str>) -> Message {
    coded_status(state, detail, None)
}

/// A status text; `code` is what the player and tests match on.
fn coded_status(state: &str, detail: Option<&str>, code: Option<&str>) -> Message {
    let mut v = serde_json::json!({ "state": state });
    if let Some(d) = detail {
        v["detail"] = d.into();
    }
    if let Some(c) = code {
        v["code"] = c.into();
    }
    Message::Text(v.to_string().into())
}

/// What the tile says for a failed pull, in the owner's words.
pub fn stream_error_words(code: StreamErrorCode) -> &'static str {
    match code {
        StreamErrorCode::AuthRefused => {
            "The camera refused the user name or password — edit the camera"
        }
        StreamErrorCode::Unreachable => {
            "The camera does not answer at its address — is it on and on the home network?"
        }
        StreamErrorCode::Timeout => "The camera answered but sent no video in time",
        StreamErrorCode::Unsupported => {
            "The camera's stream is not H.264 or H.265 video — pick another stream in its settings"
        }
        StreamErrorCode::BadUrl => "The camera's stream address is not valid — edit the camera",
        StreamErrorCode::UnknownCamera => "The gateway does not know this camera yet",
        StreamErrorCode::Other => "The camera's stream failed",
    }
}

async fn send(ws: &mut WebSocket, msg: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, ws.send(msg)).await,
        Ok(Ok(()))
    )
}

/// Whether the session that opened a live view still belongs to a user who
/// may see the camera, and the camera's owner and the viewer both still get
/// service. A database error keeps the stream (it is rechecked).
async fn session_still_valid(state: &AppState, session: &str, user_id: i64, camera: i64) -> bool {
    match crate::accounts::repo::session_user(&state.db, session).await {
        Ok(Some(live)) if live.user.id == user_id => {}
        Ok(_) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "live view: session re-check failed");
            return true;
        }
    }
    match repo::camera_in_service(&state.db, camera, user_id).await {
        Ok(on) => on,
        Err(e) => {
            tracing::warn!(error = %e, "live view: service re-check failed");
            true
        }
    }
}

/// `shared`: the viewer watches someone else's camera through a mesh share,
/// re-checked with the session, so a withdrawn share ends the stream too.
async fn watch(
    state: AppState,
    camera: Camera,
    stream: StreamKind,
    session: String,
    user_id: i64,
    shared: bool,
    mut ws: WebSocket,
) {
    let mut recheck = tokio::time::interval(SESSION_RECHECK);
    recheck.tick().await;
    let online = camera
        .gateway_id
        .is_some_and(|gw| state.cameras.is_online(gw));
    let mut sub = state.cameras.hub.subscribe(stream.channel(camera.id));
    let first = if online {
        status("connecting", None)
    } else if camera.gateway_id.is_none() {
        status("offline", Some("No gateway serves this camera."))
    } else {
        status("offline", Some("The camera's gateway is offline."))
    };
    if !send(&mut ws, first).await {
        return;
    }
    let mut live = false;
    loop {
        tokio::select! {
            _ = recheck.tick() => {
                if !session_still_valid(&state, &session, user_id, camera.id).await {
                    let _ = send(&mut ws, status("offline", Some("Your session ended."))).await;
                    let _ = ws.send(Message::Close(None)).await;
                    return;
                }
                // A database hiccup keeps the stream; a withdrawn share ends it.
                if shared {
                    if let Ok(None) = crate::mesh::service::viewable_camera(&state.db, user_id, camera.id).await {
                        let _ = send(&mut ws, status("offline", Some("This camera is no longer shared with you."))).await;
                        let _ = ws.send(Message::Close(None)).await;
                        return;
                    }
                }
            }
            item = sub.recv() => {
                let ok = match item {
                    // Deleted or access withdrawn.
                    None => {
                        let _ = send(&mut ws, status("offline", Some("The camera was removed."))).await;
                        let _ = ws.send(Message::Close(None)).await;
                        return;
                    }
                    Some(ViewerItem::Init(b)) => {
                        // "live" goes first so the player resets its buffer
                        // before the new init segment.
                        live = true;
                        send(&mut ws, status("live", None)).await && send(&mut ws, Message::Binary(b)).await
                    }
                    Some(ViewerItem::Fragment { data, .. }) => {
                        if !live {
                            live = true;
                            if !send(&mut ws, status("live", None)).await {
                                return;
                            }
                        }
                        send(&mut ws, Message::Binary(data)).await
                    }
                    Some(ViewerItem::Interrupted(why)) => {
                        live = false;
                        // A failure the gateway does not retry is "failed":
                        // the player stops saying it is reconnecting.
                        let state = if why.retrying { "reconnecting" } else { "failed" };
                        send(&mut ws, coded_status(state, Some(&why.reason), why.code)).await
                    }
                };
                if !ok {
                    return;
                }
            }
            incoming = ws.recv() => match incoming {
                // The player has nothing to say; pings are answered by axum.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    }
}

async fn snapshot(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ctx: Option<Extension<RequestContext>>,
) -> Response {
    let camera = match owned_camera(&state, ctx.as_deref(), &id).await {
        Ok((c, _)) => c,
        Err(resp) => return resp,
    };
    // Errors are JSON with a code: the page shows them in place.
    let Some(gateway) = camera.gateway_id else {
        return AppError::CameraGatewayOffline.into_response();
    };
    if camera.snapshot_url.is_none() {
        return AppError::NotFound.into_response();
    }
    match state
        .cameras
        .snapshot(gateway, camera.id, SNAPSHOT_TIMEOUT)
        .await
    {
        Ok((content_type, bytes)) => {
            // Only images go back out under our origin: anything else could
            // be HTML a camera (or a hostile gateway) wants us to serve.
            let ct = if content_type.starts_with("image/") && !content_type.contains("svg") {
                HeaderValue::from_str(&content_type)
                    .unwrap_or(HeaderValue::from_static("image/jpeg"))
            } else {
                HeaderValue::from_static("application/octet-stream")
            };
            (
                [
                    (header::CONTENT_TYPE, ct),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                bytes,
            )
                .into_response()
        }
        Err(message) => AppError::SnapshotFailed(message).into_response(),
    }
}

/// The snapshot stored with an event, for whoever may see the camera.
async fn thumbnail(
    State(state): State<AppState>,
    Path((id, event)): Path<(String, String)>,
    ctx: Option<Extension<RequestContext>>,
) -> Response {
    let camera = match owned_camera(&state, ctx.as_deref(), &id).await {
        Ok((c, _)) => c,
        Err(resp) => return resp,
    };
    let Ok(event) = event.parse::<i64>() else {
        return AppError::NotFound.into_response();
    };
    match repo::event_thumbnail(&state.db, camera.id, event).await {
        Ok(Some((content_type, bytes))) => {
            // Stored only when it was an image (never SVG); re-checked here.
            let ct = if content_type.starts_with("image/") && !content_type.contains("svg") {
                HeaderValue::from_str(&content_type)
                    .unwrap_or(HeaderValue::from_static("image/jpeg"))
            } else {
                HeaderValue::from_static("application/octet-stream")
            };
            (
                [
                    (header::CONTENT_TYPE, ct),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("private, max-age=86400"),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(None) => AppError::NotFound.into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}
