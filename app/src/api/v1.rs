//! The public API under `/api/v1` for a customer's API key: servers,
//! devices (and their configs and usage), the home inventory, cameras.
//!
//! Every handler calls the same services the pages call (device limits,
//! address allocation, server choice live there only). The OpenAPI
//! document is generated from these handlers (`utoipa`): a route can only be
//! added to this router through `routes!`, which also adds it to the
//! document. Around every call: the key is authenticated (a database read
//! per request, so a revocation holds on every instance at once), the key's
//! rate limit is counted, a POST's `Idempotency-Key` is honoured, and every
//! mutating call is written to the audit log. Reads only move the key's
//! `last_used_at` (at most once a minute): an audit row per GET would drown
//! the log that exists to show changes.

use axum::{
    body::{to_bytes, Body},
    extract::{rejection::JsonRejection, Path, Query, Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    IntoParams, IntoResponses, Modify, OpenApi, ToSchema,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    apikeys::{
        model::Scope,
        repo as keys_repo,
        service::{self as keys, ApiCaller},
    },
    audit,
    error::AppError,
    state::AppState,
    vpn::{
        devices::{self, NewDevice},
        model::{DeviceInfo, ServerInfo, TunnelMode},
        repo as vpn_repo, servers,
    },
};

/// The request id every answer carries (and the error body repeats).
#[derive(Clone)]
struct RequestId(String);

/// A failure of a keyed call: the error, the request it belongs to, and
/// for a rate limit how long to wait.
pub struct ApiFailure {
    pub(super) error: AppError,
    pub(super) request_id: String,
    pub(super) retry_after: Option<u64>,
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut res = self.error.into_api_response(self.request_id);
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

type ApiResult<T> = Result<T, ApiFailure>;

/// The caller and request id, as the key middleware left them.
struct Ctx {
    caller: ApiCaller,
    rid: String,
}

impl Ctx {
    fn of(req_ext: &axum::http::Extensions) -> Option<Self> {
        Some(Ctx {
            caller: req_ext.get::<ApiCaller>()?.clone(),
            rid: req_ext.get::<RequestId>()?.0.clone(),
        })
    }

    fn fail(&self, error: AppError) -> ApiFailure {
        ApiFailure {
            error,
            request_id: self.rid.clone(),
            retry_after: None,
        }
    }

    fn require(&self, scope: Scope) -> ApiResult<()> {
        self.caller.require(scope).map_err(|e| self.fail(e))
    }

    /// Device changes count against the same per-user limit as the pages'.
    fn device_change(&self, state: &AppState) -> ApiResult<()> {
        state
            .device_limiter
            .check(&self.caller.user.id.to_string())
            .map_err(|wait| ApiFailure {
                error: AppError::RateLimited,
                request_id: self.rid.clone(),
                retry_after: Some(wait.as_secs().max(1)),
            })
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Response> {
        Ctx::of(&parts.extensions)
            .ok_or_else(|| AppError::InvalidApiKey.into_api_response(super::request_id()))
    }
}

fn json_body<T>(ctx: &Ctx, body: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    body.map(|Json(b)| b).map_err(|e| {
        let status = e.status();
        ApiFailure {
            error: if status == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::Validation {
                    field: None,
                    message: format!("The request body is not valid: {}", e.body_text()),
                }
            },
            request_id: ctx.rid.clone(),
            retry_after: None,
        }
    })
}

// ---------------------------------------------------------------- schemas

/// Every failure: `{"error":{"code","message","details","request_id"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    error: ErrorOut,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorOut {
    /// Stable machine-readable code, e.g. `INVALID_API_KEY`, `NOT_FOUND`.
    code: String,
    message: String,
    /// The field at fault, or null.
    details: Option<String>,
    request_id: String,
}

/// The failures every keyed call can answer.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Failures {
    /// `VALIDATION_FAILED`: the query, path or body is not acceptable.
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorEnvelope),
    /// `INVALID_API_KEY`, `API_KEY_REVOKED`, `API_KEY_EXPIRED`.
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorEnvelope),
    /// `INSUFFICIENT_SCOPE`, `ACCOUNT_SUSPENDED`, `ACCOUNT_CANCELLED`,
    /// `PAYMENT_OVERDUE` (the account has no service now).
    #[response(status = 403)]
    Forbidden(#[to_schema] ErrorEnvelope),
    /// `NOT_FOUND` (another account's object is not found either).
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorEnvelope),
    /// `RATE_LIMITED`, with `Retry-After`.
    #[response(status = 429)]
    TooMany(#[to_schema] ErrorEnvelope),
    /// `DATABASE_UNAVAILABLE`, `SERVER_UNAVAILABLE`: retry later.
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorEnvelope),
}

/// The extra failures of a call that changes something.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum WriteFailures {
    /// `DEVICE_LIMIT_EXCEEDED`, `KEY_IN_USE`, `NETWORK_FULL`,
    /// `IDEMPOTENCY_IN_PROGRESS`.
    #[response(status = 409)]
    Conflict(#[to_schema] ErrorEnvelope),
    /// `PAYLOAD_TOO_LARGE`.
    #[response(status = 413)]
    TooLarge(#[to_schema] ErrorEnvelope),
    /// `IDEMPOTENCY_KEY_REUSED`: the same key with a different request.
    #[response(status = 422)]
    Reused(#[to_schema] ErrorEnvelope),
}

#[derive(Serialize, ToSchema)]
pub struct ApiServer {
    id: i64,
    name: String,
    region: String,
    country: String,
    city: String,
    /// `host:port` for WireGuard.
    endpoint: String,
    /// `shared`, `premium` or `vip_dedicated`.
    server_type: String,
    public_key: Option<String>,
    /// Peers / capacity, 0 to 100.
    load_percent: i64,
}

impl ApiServer {
    pub(super) fn id(&self) -> i64 {
        self.id
    }
}

impl From<ServerInfo> for ApiServer {
    fn from(s: ServerInfo) -> Self {
        ApiServer {
            id: s.id.0,
            endpoint: crate::vpn::wgconfig::endpoint(&s.endpoint_host, s.endpoint_port),
            load_percent: (s.peers.saturating_mul(100) / s.capacity.max(1)).clamp(0, 100),
            name: s.name,
            region: s.region,
            country: s.country,
            city: s.city,
            server_type: s.server_type.as_str().into(),
            public_key: s.public_key,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiDevice {
    id: i64,
    name: String,
    server_id: i64,
    server_name: String,
    region: String,
    public_key: String,
    address_v4: String,
    address_v6: Option<String>,
    /// Set for a regional identity (a stable exit in that region).
    identity_region: Option<String>,
    /// `full` or `split`.
    tunnel: String,
    last_handshake_at: Option<i64>,
    connected: bool,
    rx_bytes: i64,
    tx_bytes: i64,
    /// A regional identity made at sign-up that has no key yet (nodes do
    /// not have it until `POST /api/v1/devices/{id}/rekey` gives it one).
    awaiting_key: bool,
}

impl From<DeviceInfo> for ApiDevice {
    fn from(d: DeviceInfo) -> Self {
        ApiDevice {
            id: d.id,
            name: d.name,
            server_id: d.server_id.0,
            server_name: d.server_name,
            region: d.region,
            public_key: d.public_key,
            address_v4: d.address_v4,
            address_v6: d.address_v6,
            identity_region: d.identity_region,
            tunnel: d.tunnel_mode.as_str().into(),
            last_handshake_at: d.last_handshake_at,
            connected: d.connected,
            rx_bytes: d.rx_bytes,
            tx_bytes: d.tx_bytes,
            awaiting_key: d.awaiting_key,
        }
    }
}

/// A new (or re-keyed) device and its WireGuard config. The private key
/// stays on the caller's machine: the config's `PrivateKey` line is a
/// placeholder to replace with it.
#[derive(Serialize, ToSchema)]
pub struct ApiCreatedDevice {
    device: ApiDevice,
    config: String,
    file_name: String,
    /// Why this server was chosen.
    chosen_because: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiUsageDay {
    /// Days since 1970-01-01 (UTC).
    day: i64,
    rx_bytes: i64,
    tx_bytes: i64,
    connected_seconds: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ApiLanDevice {
    id: i64,
    mac: String,
    ip: String,
    name: String,
    vendor: Option<String>,
    /// `camera`, `printer`, `tv`, `phone`, `computer`, `router`, … `unknown`.
    device_type: String,
    is_camera: bool,
    online: bool,
    open_ports: Vec<u16>,
    first_seen: i64,
    last_seen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ApiCamera {
    id: i64,
    name: String,
    vendor: String,
    model: Option<String>,
    ip: String,
    gateway_id: Option<i64>,
    gateway_online: bool,
    created_at: i64,
}

/// One page of a list: `next_cursor` is null on the last page; pass it
/// back as `cursor` for the next.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub(super) items: Vec<T>,
    pub(super) next_cursor: Option<String>,
}

// ------------------------------------------------------------- parameters

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

/// The cursor and page size every list takes.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The `next_cursor` of the previous page.
    #[param(max_length = 24, pattern = "^[0-9]{1,19}$")]
    cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A page request, checked.
pub(super) struct PageReq {
    pub(super) after: i64,
    pub(super) limit: i64,
}

impl TryFrom<&PageParams> for PageReq {
    type Error = AppError;

    fn try_from(p: &PageParams) -> Result<Self, AppError> {
        let after = match p.cursor.as_deref() {
            None => 0,
            Some(c) => Some(c)
                .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|c| c.parse::<i64>().ok())
                .ok_or_else(|| AppError::invalid_field("cursor", "Unknown cursor."))?,
        };
        let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AppError::invalid_field(
                "limit",
                format!("limit must be 1 to {MAX_LIMIT}."),
            ));
        }
        Ok(PageReq { after, limit })
    }
}

/// Pages a short list held in memory (servers, a home's devices, cameras,
/// a device's days) by the same cursor rule as the database-paged devices:
/// ids ascending, the cursor is the last id given.
pub(super) fn page_of<T>(mut items: Vec<T>, key: impl Fn(&T) -> i64, req: &PageReq) -> Page<T>
where
    T: ToSchema,
{
    items.sort_by_key(|i| key(i));
    let mut rest: Vec<T> = items.into_iter().filter(|i| key(i) > req.after).collect();
    let more = rest.len() as i64 > req.limit;
    rest.truncate(req.limit as usize);
    let next_cursor = more
        .then(|| rest.last().map(|i| key(i).to_string()))
        .flatten();
    Page {
        items: rest,
        next_cursor,
    }
}

fn page_params(ctx: &Ctx, p: &PageParams) -> ApiResult<PageReq> {
    PageReq::try_from(p).map_err(|e| ctx.fail(e))
}

/// A `region` filter as the document has it (at most 32 characters),
/// compared as regions are stored: trimmed, lower case.
fn region_filter(ctx: &Ctx, region: Option<String>) -> ApiResult<Option<String>> {
    match region {
        Some(r) if r.chars().count() > 32 => {
            Err(ctx.fail(AppError::invalid_field("region", "Unknown region.")))
        }
        r => Ok(r.map(|r| r.trim().to_lowercase())),
    }
}

/// Ids are positive: a filter on 0 or below is a mistake, not an empty list.
fn positive_id(ctx: &Ctx, field: &str, id: Option<i64>) -> ApiResult<()> {
    match id {
        Some(n) if n < 1 => Err(ctx.fail(AppError::invalid_field(field, "Unknown id."))),
        _ => Ok(()),
    }
}

/// A device name as the document describes it: at most 64 characters
/// before trimming (the service trims and applies its own rules).
pub(super) fn device_name(name: &str) -> Result<(), AppError> {
    if name.chars().count() > 64 {
        return Err(AppError::invalid_field(
            "name",
            "A device name is at most 64 characters.",
        ));
    }
    Ok(())
}

/// A public key exactly as the document's pattern has it: no surrounding
/// space (the service's parser would forgive it).
fn exact_key(key: &str) -> Result<(), AppError> {
    if key.is_empty() || key.trim() != key {
        return Err(AppError::invalid_field(
            "public_key",
            "A WireGuard public key is 44 characters of base64.",
        ));
    }
    Ok(())
}

// --------------------------------------------------------------- handlers

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServerFilter {
    /// Only servers in this region.
    #[param(max_length = 32)]
    region: Option<String>,
}

/// Servers the account may put a device on: active and enrolled; a
/// dedicated server only for its VIP; premium servers only on a plan that
/// includes them (`vpn::servers::offered`, the rule the pages use).
#[utoipa::path(get, path = "/api/v1/servers", tag = "servers",
    params(PageParams, ServerFilter),
    responses((status = 200, body = Page<ApiServer>), Failures),
    security(("api_key" = ["read"])))]
async fn list_servers(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(page): Query<PageParams>,
    Query(filter): Query<ServerFilter>,
) -> ApiResult<Json<Page<ApiServer>>> {
    ctx.require(Scope::Read)?;
    let req = page_params(&ctx, &page)?;
    let region = region_filter(&ctx, filter.region)?;
    let list = servers::offered_servers(
        &state.db,
        servers::NodeFreshness::of(&state),
        &ctx.caller.user,
    )
    .await
    .map_err(|e| ctx.fail(e))?;
    let list = list
        .into_iter()
        .filter(|s| region.as_deref().is_none_or(|r| s.region == r))
        .map(ApiServer::from)
        .collect();
    Ok(Json(page_of(list, |s: &ApiServer| s.id, &req)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyBody {
    /// Round trip the client measured to the server, in milliseconds.
    #[schema(minimum = 0, maximum = 60000)]
    latency_ms: i64,
}

/// Reports what the caller's client measured to a server: when the portal
/// chooses a server for a new device, equally loaded servers are ordered
/// by the latest report (kept a week).
#[utoipa::path(post, path = "/api/v1/servers/{id}/latency", tag = "servers",
    params(("id" = i64, Path, minimum = 1),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry of this POST safe.", max_length = 255)),
    request_body = LatencyBody,
    responses((status = 204, description = "Recorded."), Failures, WriteFailures),
    security(("api_key" = ["devices:write"])))]
async fn report_latency(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    body: Result<Json<LatencyBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    ctx.require(Scope::DevicesWrite)?;
    let body = json_body(&ctx, body)?;
    servers::report_latency(
        &state.db,
        &ctx.caller.user,
        crate::typed::ServerId(id),
        body.latency_ms,
    )
    .await
    .map_err(|e| ctx.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceFilter {
    /// Only devices on this server.
    #[param(minimum = 1)]
    server_id: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    params(PageParams, DeviceFilter),
    responses((status = 200, body = Page<ApiDevice>), Failures),
    security(("api_key" = ["read"])))]
async fn list_devices(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(page): Query<PageParams>,
    Query(filter): Query<DeviceFilter>,
) -> ApiResult<Json<Page<ApiDevice>>> {
    ctx.require(Scope::Read)?;
    let req = page_params(&ctx, &page)?;
    positive_id(&ctx, "server_id", filter.server_id)?;
    // One more than asked tells whether there is a next page.
    let mut rows = vpn_repo::user_devices_page(
        &state.db,
        ctx.caller.user.id,
        req.after,
        req.limit + 1,
        filter.server_id.map(crate::typed::ServerId),
    )
    .await
    .map_err(|e| ctx.fail(e.into()))?;
    let more = rows.len() as i64 > req.limit;
    rows.truncate(req.limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|d| d.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: rows.into_iter().map(ApiDevice::from).collect(),
        next_cursor,
    }))
}

/// `full` sends everything through the tunnel; `split` only the VPN's own
/// networks, the account's home sites and the tunnel DNS.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum ApiTunnel {
    Full,
    Split,
}

impl From<ApiTunnel> for TunnelMode {
    fn from(t: ApiTunnel) -> Self {
        match t {
            ApiTunnel::Full => TunnelMode::Full,
            ApiTunnel::Split => TunnelMode::Split,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeviceBody {
    /// One line, 1 to 64 characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\x00-\\x1f\\x7f]*[^\\x00-\\x20\\x7f][^\\x00-\\x1f\\x7f]*$"
    )]
    name: String,
    /// The device's WireGuard public key; its private key never leaves it.
    #[schema(pattern = "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$")]
    public_key: String,
    /// A server from `GET /api/v1/servers`; omitted: the portal chooses.
    #[schema(minimum = 1)]
    server_id: Option<i64>,
    /// Prefer a server in this region when the portal chooses.
    #[schema(max_length = 32)]
    region: Option<String>,
    tunnel: Option<ApiTunnel>,
}

impl TryFrom<CreateDeviceBody> for NewDevice {
    type Error = AppError;

    fn try_from(b: CreateDeviceBody) -> Result<Self, AppError> {
        device_name(&b.name)?;
        exact_key(&b.public_key)?;
        if b.region.as_ref().is_some_and(|r| r.chars().count() > 32) {
            return Err(AppError::invalid_field("region", "Unknown region."));
        }
        if b.server_id.is_some_and(|s| s < 1) {
            return Err(AppError::invalid_field("server_id", "Unknown server."));
        }
        let region = b
            .region
            .map(|r| r.trim().to_lowercase())
            .filter(|r| !r.is_empty());
        Ok(NewDevice {
            name: b.name,
            public_key: Some(b.public_key),
            server_id: b.server_id,
            region,
            identity_region: None,
            tunnel_mode: b.tunnel.map(TunnelMode::from).unwrap_or_default(),
        })
    }
}

pub(super) fn created(c: crate::vpn::model::CreatedDevice) -> ApiCreatedDevice {
    ApiCreatedDevice {
        device: c.device.into(),
        config: c.config,
        file_name: c.file_name,
        chosen_because: c.chosen_because,
    }
}

/// Adds a device from its public key and returns its config. Send an
/// `Idempotency-Key` header to make a retry safe: the same key and body
/// answer the first answer again (one device); the same key with another
/// body is refused with `IDEMPOTENCY_KEY_REUSED`.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices",
    request_body = CreateDeviceBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry of this POST safe (up to 255 characters).", max_length = 255)),
    responses((status = 201, body = ApiCreatedDevice), Failures, WriteFailures),
    security(("api_key" = ["devices:write"])))]
async fn create_device(
    State(state): State<AppState>,
    ctx: Ctx,
    body: Result<Json<CreateDeviceBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ApiCreatedDevice>)> {
    ctx.require(Scope::DevicesWrite)?;
    let input = NewDevice::try_from(json_body(&ctx, body)?).map_err(|e| ctx.fail(e))?;
    ctx.device_change(&state)?;
    let c = devices::create_device(&state, &ctx.caller.user, input)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok((StatusCode::CREATED, Json(created(c))))
}

/// A device of the caller's account; anyone else's is not found.
async fn owned(state: &AppState, ctx: &Ctx, id: i64) -> ApiResult<DeviceInfo> {
    match vpn_repo::device_row(&state.db, id)
        .await
        .map_err(|e| ctx.fail(e.into()))?
    {
        Some(r) if r.user_id == ctx.caller.user.id => vpn_repo::device_info(&state.db, id)
            .await
            .map_err(|e| ctx.fail(e.into()))?
            .ok_or_else(|| ctx.fail(AppError::NotFound)),
        _ => Err(ctx.fail(AppError::NotFound)),
    }
}

#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = ApiDevice), Failures),
    security(("api_key" = ["read"])))]
async fn get_device(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApiDevice>> {
    ctx.require(Scope::Read)?;
    Ok(Json(owned(&state, &ctx, id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameDeviceBody {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\x00-\\x1f\\x7f]*[^\\x00-\\x20\\x7f][^\\x00-\\x1f\\x7f]*$"
    )]
    name: String,
}

#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "devices",
    params(("id" = i64, Path, minimum = 1)),
    request_body = RenameDeviceBody,
    responses((status = 200, body = ApiDevice), Failures, WriteFailures),
    security(("api_key" = ["devices:write"])))]
async fn rename_device(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    body: Result<Json<RenameDeviceBody>, JsonRejection>,
) -> ApiResult<Json<ApiDevice>> {
    ctx.require(Scope::DevicesWrite)?;
    let body = json_body(&ctx, body)?;
    device_name(&body.name).map_err(|e| ctx.fail(e))?;
    devices::rename_device(&state, &ctx.caller.user, id, &body.name)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Json(owned(&state, &ctx, id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RekeyDeviceBody {
    /// The device's new public key (made on the device).
    #[schema(pattern = "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$")]
    public_key: String,
}

/// New keys for a device, keeping its address; returns the new config.
#[utoipa::path(post, path = "/api/v1/devices/{id}/rekey", tag = "devices",
    params(("id" = i64, Path, minimum = 1),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry of this POST safe.", max_length = 255)),
    request_body = RekeyDeviceBody,
    responses((status = 200, body = ApiCreatedDevice), Failures, WriteFailures),
    security(("api_key" = ["devices:write"])))]
async fn rekey_device(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    body: Result<Json<RekeyDeviceBody>, JsonRejection>,
) -> ApiResult<Json<ApiCreatedDevice>> {
    ctx.require(Scope::DevicesWrite)?;
    let body = json_body(&ctx, body)?;
    exact_key(&body.public_key).map_err(|e| ctx.fail(e))?;
    ctx.device_change(&state)?;
    let c = devices::rekey_device(&state, &ctx.caller.user, id, Some(body.public_key))
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Json(created(c)))
}

#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 204, description = "Removed; its addresses are free again."), Failures),
    security(("api_key" = ["devices:write"])))]
async fn delete_device(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    ctx.require(Scope::DevicesWrite)?;
    ctx.device_change(&state)?;
    devices::delete_device(&state, &ctx.caller.user, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The device's WireGuard config (`PrivateKey` is a placeholder: the
/// portal never has the device's private key).
#[utoipa::path(get, path = "/api/v1/devices/{id}/config", tag = "devices",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, content_type = "text/plain", body = String), Failures),
    security(("api_key" = ["read"])))]
async fn device_config(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    ctx.require(Scope::Read)?;
    let (file_name, config) = devices::device_config(&state, &ctx.caller.user, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{file_name}\""),
            ),
        ],
        config,
    )
        .into_response())
}

/// The same config as a QR code (SVG), for an app that scans one.
#[utoipa::path(get, path = "/api/v1/devices/{id}/config/qr", tag = "devices",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, content_type = "image/svg+xml", body = String), Failures),
    security(("api_key" = ["read"])))]
async fn device_config_qr(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    ctx.require(Scope::Read)?;
    let (_, config) = devices::device_config(&state, &ctx.caller.user, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let svg = crate::vpn::wgconfig::qr_svg(&config)
        .ok_or_else(|| ctx.fail(AppError::internal("config too large for a QR code")))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageFilter {
    /// How many days back, 1 to 90 (default 14, today included).
    #[param(minimum = 1, maximum = 90)]
    days: Option<i64>,
}

/// Traffic per day; the cursor is a day number.
#[utoipa::path(get, path = "/api/v1/devices/{id}/usage", tag = "devices",
    params(("id" = i64, Path, minimum = 1), PageParams, UsageFilter),
    responses((status = 200, body = Page<ApiUsageDay>), Failures),
    security(("api_key" = ["read"])))]
async fn device_usage(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(page): Query<PageParams>,
    Query(filter): Query<UsageFilter>,
) -> ApiResult<Json<Page<ApiUsageDay>>> {
    ctx.require(Scope::Read)?;
    let req = page_params(&ctx, &page)?;
    let days = filter.days.unwrap_or(14);
    if !(1..=90).contains(&days) {
        return Err(ctx.fail(AppError::invalid_field("days", "days must be 1 to 90.")));
    }
    owned(&state, &ctx, id).await?;
    let since = crate::db::now() / 86_400 - (days - 1);
    let list = vpn_repo::usage(&state.db, id, since)
        .await
        .map_err(|e| ctx.fail(e.into()))?
        .into_iter()
        .map(|u| ApiUsageDay {
            day: u.day,
            rx_bytes: u.rx_bytes,
            tx_bytes: u.tx_bytes,
            connected_seconds: u.connected_seconds,
        })
        .collect();
    Ok(Json(page_of(list, |u: &ApiUsageDay| u.day, &req)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InventoryFilter {
    /// Only devices online (true) or offline (false).
    online: Option<bool>,
    /// Only cameras (true) or everything but cameras (false).
    camera: Option<bool>,
}

/// The devices the home scanner has found on the account's home network.
#[utoipa::path(get, path = "/api/v1/home/devices", tag = "home",
    params(PageParams, InventoryFilter),
    responses((status = 200, body = Page<ApiLanDevice>), Failures),
    security(("api_key" = ["read"])))]
async fn home_devices(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(page): Query<PageParams>,
    Query(filter): Query<InventoryFilter>,
) -> ApiResult<Json<Page<ApiLanDevice>>> {
    ctx.require(Scope::Read)?;
    let req = page_params(&ctx, &page)?;
    let list = crate::inventory::repo::list_devices(&state.db, ctx.caller.user.id)
        .await
        .map_err(|e| ctx.fail(e.into()))?
        .into_iter()
        .filter(|d| filter.online.is_none_or(|o| d.online == o))
        .filter(|d| filter.camera.is_none_or(|c| d.is_camera == c))
        .map(|d| ApiLanDevice {
            name: d.display_name(),
            device_type: serde_json::to_value(d.device_type)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            id: d.id,
            mac: d.mac,
            ip: d.ip,
            vendor: d.vendor,
            is_camera: d.is_camera,
            online: d.online,
            open_ports: d.open_ports,
            first_seen: d.first_seen,
            last_seen: d.last_seen,
        })
        .collect();
    Ok(Json(page_of(list, |d: &ApiLanDevice| d.id, &req)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CameraFilter {
    /// Only cameras behind this gateway.
    #[param(minimum = 1)]
    gateway_id: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/cameras", tag = "cameras",
    params(PageParams, CameraFilter),
    responses((status = 200, body = Page<ApiCamera>), Failures),
    security(("api_key" = ["cameras:read"])))]
async fn list_cameras(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(page): Query<PageParams>,
    Query(filter): Query<CameraFilter>,
) -> ApiResult<Json<Page<ApiCamera>>> {
    ctx.require(Scope::CamerasRead)?;
    let req = page_params(&ctx, &page)?;
    positive_id(&ctx, "gateway_id", filter.gateway_id)?;
    let list = crate::cameras::repo::list_cameras(&state.db, ctx.caller.user.id)
        .await
        .map_err(|e| ctx.fail(e.into()))?
        .into_iter()
        .filter(|c| filter.gateway_id.is_none_or(|g| c.gateway_id == Some(g)))
        .map(|c| ApiCamera {
            id: c.id,
            name: c.name,
            vendor: c.vendor.as_str().into(),
            model: c.model,
            ip: c.ip,
            gateway_id: c.gateway_id,
            gateway_online: c.gateway_online,
            created_at: c.created_at,
        })
        .collect();
    Ok(Json(page_of(list, |c: &ApiCamera| c.id, &req)))
}

/// The extra failures of a camera snapshot.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum SnapshotFailures {
    /// `CAMERA_SNAPSHOT_FAILED`: the camera did not give a picture.
    #[response(status = 502)]
    BadGateway(#[to_schema] ErrorEnvelope),
}

/// A still picture from the camera, asked through its gateway now (the
/// service the cameras page uses). `NOT_FOUND` for a camera without a
/// snapshot address; `CAMERA_GATEWAY_OFFLINE` (503) when its gateway is not
/// connected.
#[utoipa::path(get, path = "/api/v1/cameras/{id}/snapshot", tag = "cameras",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, description = "The picture as the camera sent it.",
            content(("image/jpeg"), ("image/png"), ("application/octet-stream"))),
        Failures, SnapshotFailures),
    security(("api_key" = ["cameras:read"])))]
async fn camera_snapshot(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    ctx.require(Scope::CamerasRead)?;
    let (camera, _) = crate::cameras::service::viewable_camera(&state, ctx.caller.user.id, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let shot =
        crate::cameras::service::snapshot(&state, &camera, crate::cameras::live::SNAPSHOT_TIMEOUT)
            .await
            .map_err(|e| ctx.fail(e))?;
    Ok((
        [
            (header::CONTENT_TYPE, shot.content_type),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        shot.bytes,
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdentityFilter {
    /// Only the identity in this region.
    #[param(max_length = 32)]
    region: Option<String>,
}

/// The account's regional identities: a stable exit per region (the same
/// server and address every time). One made at sign-up waits for a key
/// (`awaiting_key`); `POST /api/v1/devices/{id}/rekey` gives it one.
#[utoipa::path(get, path = "/api/v1/identities", tag = "identities",
    params(PageParams, IdentityFilter),
    responses((status = 200, body = Page<ApiDevice>), Failures),
    security(("api_key" = ["read"])))]
async fn list_identities(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(page): Query<PageParams>,
    Query(filter): Query<IdentityFilter>,
) -> ApiResult<Json<Page<ApiDevice>>> {
    ctx.require(Scope::Read)?;
    let req = page_params(&ctx, &page)?;
    let region = region_filter(&ctx, filter.region)?;
    let list = vpn_repo::list_user_devices(&state.db, ctx.caller.user.id)
        .await
        .map_err(|e| ctx.fail(e.into()))?
        .into_iter()
        .filter(|d| {
            d.identity_region
                .as_deref()
                .is_some_and(|r| region.as_deref().is_none_or(|want| r == want))
        })
        .map(ApiDevice::from)
        .collect();
    Ok(Json(page_of(list, |d: &ApiDevice| d.id, &req)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIdentityBody {
    /// The region, as the servers list names it.
    #[schema(min_length = 1, max_length = 32)]
    region: String,
    /// The WireGuard public key made on the caller's machine.
    #[schema(pattern = "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$")]
    public_key: String,
}

/// A regional identity, with a key made on the caller's machine (what the
/// devices page's "Add identity" does: the plan's identity limit, a server
/// in exactly that region).
#[utoipa::path(post, path = "/api/v1/identities", tag = "identities",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry of this POST safe.", max_length = 255)),
    request_body = NewIdentityBody,
    responses((status = 201, body = ApiCreatedDevice), Failures, WriteFailures),
    security(("api_key" = ["devices:write"])))]
async fn create_identity(
    State(state): State<AppState>,
    ctx: Ctx,
    body: Result<Json<NewIdentityBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ApiCreatedDevice>)> {
    ctx.require(Scope::DevicesWrite)?;
    let body = json_body(&ctx, body)?;
    exact_key(&body.public_key).map_err(|e| ctx.fail(e))?;
    let region = body.region.trim().to_lowercase();
    if region.is_empty() || body.region.chars().count() > 32 {
        return Err(ctx.fail(AppError::invalid_field("region", "Pick a region.")));
    }
    // A region none of the account's servers is in is a wrong request, not
    // a server that is down.
    let offered = servers::offered_servers(
        &state.db,
        servers::NodeFreshness::of(&state),
        &ctx.caller.user,
    )
    .await
    .map_err(|e| ctx.fail(e))?;
    if !offered.iter().any(|s| s.region == region) {
        return Err(ctx.fail(AppError::invalid_field(
            "region",
            "No server of yours is in that region (see GET /api/v1/servers).",
        )));
    }
    ctx.device_change(&state)?;
    let made = devices::create_device(
        &state,
        &ctx.caller.user,
        NewDevice {
            name: format!("Identity {region}"),
            public_key: Some(body.public_key),
            server_id: None,
            region: None,
            identity_region: Some(region),
            tunnel_mode: Default::default(),
        },
    )
    .await
    .map_err(|e| ctx.fail(e))?;
    Ok((StatusCode::CREATED, Json(created(made))))
}

// ------------------------------------------------------------ the router

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("tvk_…")
                        .description(Some("An API key from Account → API keys."))
                        .build(),
                ),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TrueVault API",
        description = "Your account's servers, devices, home network and cameras. \
            Authenticate with `Authorization: Bearer tvk_…` (Account → API keys). \
            Lists are paged with `cursor`/`limit`; a POST takes an `Idempotency-Key`; \
            each key is rate-limited (429 `RATE_LIMITED` with `Retry-After`); every \
            error is `{\"error\":{\"code\",\"message\",\"details\",\"request_id\"}}`.",
        license(name = "AGPL-3.0-only")
    ),
    modifiers(&BearerKey),
    components(schemas(ErrorEnvelope, ErrorOut)),
    tags(
        (name = "servers", description = "Where devices can go"),
        (name = "devices", description = "WireGuard devices, their configs and usage"),
        (name = "home", description = "The home network inventory"),
        (name = "identities", description = "Regional identities: a stable exit per region"),
        (name = "cameras", description = "Cameras")
    )
)]
struct ApiDoc;

/// The keyed routes and the document made from them.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_servers))
        .routes(routes!(report_latency))
        .routes(routes!(list_devices, create_device))
        .routes(routes!(get_device, rename_device, delete_device))
        .routes(routes!(rekey_device))
        .routes(routes!(device_config))
        .routes(routes!(device_config_qr))
        .routes(routes!(device_usage))
        .routes(routes!(home_devices))
        .routes(routes!(list_cameras))
        .routes(routes!(camera_snapshot))
        .routes(routes!(list_identities, create_identity))
}

/// The OpenAPI document (3.1) of the keyed routes and the platform's
/// (`api::platform`), one document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = routes().into_openapi();
    doc.merge(super::platform::routes().into_openapi());
    doc
}

pub fn router(state: AppState) -> axum::Router<AppState> {
    let (keyed, mut doc) = routes().split_for_parts();
    let (platform, platform_doc) = super::platform::routes().split_for_parts();
    doc.merge(platform_doc);
    let doc_json = doc.to_pretty_json().unwrap_or_default();
    let doc_html = super::docs::render(&doc);
    keyed
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            with_key,
        ))
        .merge(super::platform::layered(platform, state))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let body = doc_json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route(
            "/api/docs",
            axum::routing::get(move || {
                let body = doc_html.clone();
                async move {
                    (
                        [(
                            header::CONTENT_SECURITY_POLICY,
                            "default-src 'none'; style-src 'self'; img-src 'self'; \
                             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                        )],
                        axum::response::Html(body),
                    )
                }
            }),
        )
}

/// Request bodies of the keyed API are small JSON objects.
pub(super) const MAX_BODY: usize = 16 * 1024;

/// Authenticates the key, counts its rate limit, and audits what changes.
async fn with_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let rid = super::request_id();
    let fail = |error: AppError, retry_after: Option<u64>| {
        ApiFailure {
            error,
            request_id: rid.clone(),
            retry_after,
        }
        .into_response()
    };
    let Some(key) = super::bearer(req.headers()) else {
        return fail(AppError::InvalidApiKey, None);
    };
    let caller = match keys::authenticate(&state.db, key).await {
        Ok(c) => c,
        Err(e) => return fail(e, None),
    };
    if let Err(wait) = state.api_limiter.check(&caller.key_id.to_string()) {
        return fail(AppError::RateLimited, Some(wait.as_secs().max(1)));
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let ip = super::client_ip(req.headers());
    req.extensions_mut().insert(caller.clone());
    req.extensions_mut().insert(RequestId(rid.clone()));
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&rid) {
        res.headers_mut().insert("x-request-id", v);
    }
    if method != Method::GET && method != Method::HEAD {
        audit::record(
            &state.db,
            Some(caller.user.id),
            "api_key.call",
            &format!("{method} {path}"),
            &ip,
            &format!(
                "key {} ({}) status {}",
                caller.key_id,
                caller.key_name,
                res.status().as_u16()
            ),
        )
        .await;
    }
    res
}

use crate::apikeys::workflows::IDEMPOTENCY_TTL_SECS;

/// `Idempotency-Key` on a POST: the first request's answer is kept (sealed)
/// and replayed for the same key and body; another body under the same key
/// is refused, and so is a second request while the first still runs. A
/// failure on our side (5xx) releases the key so a retry can go through.
async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let idem = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string));
    let Some(ctx) = Ctx::of(req.extensions()) else {
        return next.run(req).await;
    };
    let idem = match idem {
        None => return next.run(req).await,
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => k,
        Some(_) => {
            return ctx
                .fail(AppError::invalid_field(
                    "Idempotency-Key",
                    "An Idempotency-Key is 1 to 255 visible characters.",
                ))
                .into_response()
        }
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return ctx.fail(AppError::PayloadTooLarge).into_response(),
    };
    let mut fingerprint = format!("{} {}\n", parts.method, parts.uri.path()).into_bytes();
    fingerprint.extend_from_slice(&bytes);
    let request_hash = crate::accounts::tokens::hash_token(&String::from_utf8_lossy(&fingerprint));
    let key_id = ctx.caller.key_id;
    let now = state.clock.now();
    let claimed = keys_repo::claim_idempotency(
        &state.db,
        key_id,
        &idem,
        &request_hash,
        now,
        now - IDEMPOTENCY_TTL_SECS,
    )
    .await;
    match claimed {
        Err(e) => return ctx.fail(e.into()).into_response(),
        Ok(false) => return replay(&state, &ctx, &idem, &request_hash).await,
        Ok(true) => {}
    }
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = res.status();
    if status.is_server_error() {
        if let Err(e) = keys_repo::release_idempotency(&state.db, key_id, &idem).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, 1 << 20).await else {
        return ctx
            .fail(AppError::internal("unreadable response"))
            .into_response();
    };
    let kept = Kept {
        status: status.as_u16(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_string(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    let sealed = state
        .keys
        .seal(serde_json::to_string(&kept).unwrap_or_default().as_bytes());
    if let Err(e) =
        keys_repo::finish_idempotency(&state.db, key_id, &idem, status.as_u16(), &sealed).await
    {
        tracing::warn!(error = %e, "could not keep an idempotent answer");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A kept answer (sealed at rest: a device's config holds its preshared key).
#[derive(Serialize, Deserialize)]
struct Kept {
    status: u16,
    content_type: String,
    body: String,
}

async fn replay(state: &AppState, ctx: &Ctx, idem: &str, request_hash: &str) -> Response {
    let kept = match keys_repo::remembered(&state.db, ctx.caller.key_id, idem).await {
        Ok(Some(k)) => k,
        // Released between our claim and this read: ask for a retry.
        Ok(None) => return ctx.fail(AppError::IdempotencyInProgress).into_response(),
        Err(e) => return ctx.fail(e.into()).into_response(),
    };
    if kept.request_hash != request_hash {
        return ctx.fail(AppError::IdempotencyKeyReused).into_response();
    }
    if kept.status == 0 {
        return ctx.fail(AppError::IdempotencyInProgress).into_response();
    }
    let answer = state
        .keys
        .open(&kept.response_sealed)
        .ok()
        .and_then(|b| serde_json::from_slice::<Kept>(&b).ok());
    let Some(answer) = answer else {
        return ctx
            .fail(AppError::internal("kept answer unreadable"))
            .into_response();
    };
    let mut res = Response::new(Body::from(answer.body));
    *res.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&answer.content_type) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    res.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    res
}
