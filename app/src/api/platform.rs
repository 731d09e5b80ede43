//! The tenant API under `/api/v1/platform`, in the same OpenAPI document as
//! the customers' API: a tenant's backend registers and signs in its users
//! (short-lived access token, rotating refresh token), manages a signed-in
//! user's devices, lists servers and reads usage.
//!
//! Every call carries a tenant credential, either as headers
//! (`X-TrueVault-Key` + `X-TrueVault-Secret`) or signed
//! (`X-TrueVault-Key` + `X-TrueVault-Timestamp` + `X-TrueVault-Signature:
//! v1=<hex HMAC-SHA256>` over the timestamp, method, path with query and
//! the body's SHA-256, keyed with the hex SHA-256 of the secret; five
//! minutes either way, each signature accepted once). Calls on behalf of a
//! user add that user's access token as `X-TrueVault-User-Token`. The
//! credential is read from the database on every call (a revocation or the
//! tenant's suspension holds on the next request everywhere), counted per
//! day, rate-limited like an API key, and every call that is not a GET is
//! audited against the tenant. No header value is ever logged.

use axum::{
    body::{to_bytes, Body},
    extract::{rejection::JsonRejection, Path, Query, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
    IntoParams, IntoResponses, Modify, OpenApi, ToSchema,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::v1::{
    created, page_of, ApiCreatedDevice, ApiDevice, ApiFailure, ApiServer, CreateDeviceBody,
    ErrorEnvelope, Page, PageParams, PageReq, MAX_BODY,
};
use crate::{
    accounts::model::CurrentUser,
    audit,
    error::AppError,
    state::AppState,
    tenants::{
        model::{TenantError, TenantUserId},
        repo as tenant_repo,
        service::{self as tenants, Presented, TenantCaller, TokenPair},
    },
    vpn::{devices, repo as vpn_repo, servers},
};

pub const KEY_HEADER: &str = "x-truevault-key";
pub const SECRET_HEADER: &str = "x-truevault-secret";
pub const TIMESTAMP_HEADER: &str = "x-truevault-timestamp";
pub const SIGNATURE_HEADER: &str = "x-truevault-signature";
pub const USER_TOKEN_HEADER: &str = "x-truevault-user-token";

#[derive(Clone)]
struct RequestId(String);

type ApiResult<T> = Result<T, ApiFailure>;

/// The calling tenant and the request id, as the middleware left them.
struct Ctx {
    caller: TenantCaller,
    rid: String,
}

impl Ctx {
    fn fail(&self, error: AppError) -> ApiFailure {
        ApiFailure {
            error,
            request_id: self.rid.clone(),
            retry_after: None,
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Response> {
        match (
            parts.extensions.get::<TenantCaller>(),
            parts.extensions.get::<RequestId>(),
        ) {
            (Some(c), Some(r)) => Ok(Ctx {
                caller: *c,
                rid: r.0.clone(),
            }),
            _ => Err(AppError::Tenant(TenantError::InvalidCredential)
                .into_api_response(super::request_id())),
        }
    }
}

/// A call on behalf of one of the tenant's users: its access token, checked
/// against the calling tenant (another tenant's user is refused).
struct UserCtx {
    ctx: Ctx,
    account: CurrentUser,
}

impl axum::extract::FromRequestParts<AppState> for UserCtx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        let token = parts
            .headers
            .get(USER_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        match tenants::user_for_access(&state.db, ctx.caller.tenant, token).await {
            Ok((_, account)) => Ok(UserCtx { ctx, account }),
            Err(e) => Err(ctx.fail(e).into_response()),
        }
    }
}

fn json_body<T>(ctx: &Ctx, body: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    body.map(|Json(b)| b).map_err(|e| {
        ctx.fail(if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::Validation {
                field: None,
                message: format!("The request body is not valid: {}", e.body_text()),
            }
        })
    })
}

fn page_req(ctx: &Ctx, p: &PageParams) -> ApiResult<PageReq> {
    PageReq::try_from(p).map_err(|e| ctx.fail(e))
}

// ---------------------------------------------------------------- schemas

/// The failures every platform call can answer.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum PlatformFailures {
    /// `VALIDATION_FAILED`: the query, path or body is not acceptable.
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorEnvelope),
    /// `INVALID_TENANT_CREDENTIAL`, `SIGNATURE_INVALID`, `SIGNATURE_EXPIRED`,
    /// `SIGNATURE_REPLAYED`, `INVALID_ACCESS_TOKEN`, `INVALID_REFRESH_TOKEN`,
    /// `REFRESH_TOKEN_REUSED`, `INVALID_CREDENTIALS`.
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorEnvelope),
    /// `TENANT_SUSPENDED`.
    #[response(status = 403)]
    Forbidden(#[to_schema] ErrorEnvelope),
    /// `NOT_FOUND` (another tenant's user or device is not found either).
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorEnvelope),
    /// `RATE_LIMITED`, with `Retry-After`.
    #[response(status = 429)]
    TooMany(#[to_schema] ErrorEnvelope),
    /// `DATABASE_UNAVAILABLE`, `SERVER_UNAVAILABLE`: retry later.
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorEnvelope),
}

/// The extra failures of a platform call that changes something.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum PlatformWriteFailures {
    /// `TENANT_USER_LIMIT`, `EMAIL_TAKEN`, `DEVICE_LIMIT_EXCEEDED`,
    /// `KEY_IN_USE`, `NETWORK_FULL`.
    #[response(status = 409)]
    Conflict(#[to_schema] ErrorEnvelope),
    /// `PAYLOAD_TOO_LARGE`.
    #[response(status = 413)]
    TooLarge(#[to_schema] ErrorEnvelope),
}

#[derive(Serialize, ToSchema)]
pub struct ApiTenantUser {
    id: i64,
    email: String,
    created_at: i64,
}

impl From<tenant_repo::TenantUserRow> for ApiTenantUser {
    fn from(u: tenant_repo::TenantUserRow) -> Self {
        ApiTenantUser {
            id: u.id.0,
            email: u.email,
            created_at: u.created_at,
        }
    }
}

/// A sign-in's tokens. Send the access token as `X-TrueVault-User-Token`
/// on the user's calls; trade the refresh token for a new pair before the
/// access token ends. A refresh token works once: presenting a spent one
/// revokes every token of that sign-in.
#[derive(Serialize, ToSchema)]
pub struct ApiTokens {
    user_id: i64,
    access_token: String,
    refresh_token: String,
    /// Seconds the access token lives.
    expires_in: i64,
}

impl From<TokenPair> for ApiTokens {
    fn from(t: TokenPair) -> Self {
        ApiTokens {
            user_id: t.user.id.0,
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            expires_in: t.expires_in,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    /// The user's e-mail; unique only inside this tenant.
    #[schema(min_length = 3, max_length = 254)]
    email: String,
    /// At least 10 characters, and not the e-mail.
    #[schema(min_length = 10, max_length = 1024)]
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[schema(min_length = 1, max_length = 128)]
    refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiTenantUsage {
    users: i64,
    /// Users with traffic this month.
    active_users: i64,
    devices: i64,
    rx_bytes: i64,
    tx_bytes: i64,
    connected_seconds: i64,
    api_calls: i64,
    /// The plan's limits; null is unlimited.
    max_users: Option<i64>,
    max_devices: Option<i64>,
    bandwidth_bytes_per_month: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiUserUsage {
    user_id: i64,
    devices: i64,
    rx_bytes: i64,
    tx_bytes: i64,
    connected_seconds: i64,
}

// --------------------------------------------------------------- handlers

fn tokens_answer(
    ctx: &Ctx,
    status: StatusCode,
    r: Result<TokenPair, AppError>,
) -> ApiResult<(StatusCode, Json<ApiTokens>)> {
    r.map(|t| (status, Json(t.into()))).map_err(|e| ctx.fail(e))
}

/// Registers a user in the tenant's own pool (the same e-mail in another
/// tenant is another person) and signs them in.
#[utoipa::path(post, path = "/api/v1/platform/users", tag = "platform",
    request_body = CredentialsBody,
    responses((status = 201, body = ApiTokens), PlatformFailures, PlatformWriteFailures),
    security(("tenant_key" = [], "tenant_secret" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [])))]
async fn register_user(
    State(state): State<AppState>,
    ctx: Ctx,
    body: Result<Json<CredentialsBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ApiTokens>)> {
    let b = json_body(&ctx, body)?;
    let new = tenants::NewTenantUser::parse(&b.email, &b.password).map_err(|e| ctx.fail(e))?;
    let r = tenants::register(&state.db, ctx.caller.tenant, new).await;
    tokens_answer(&ctx, StatusCode::CREATED, r)
}

/// Signs a user in: a new access and refresh token.
#[utoipa::path(post, path = "/api/v1/platform/sessions", tag = "platform",
    request_body = CredentialsBody,
    responses((status = 200, body = ApiTokens), PlatformFailures, PlatformWriteFailures),
    security(("tenant_key" = [], "tenant_secret" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [])))]
async fn sign_in(
    State(state): State<AppState>,
    ctx: Ctx,
    body: Result<Json<CredentialsBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ApiTokens>)> {
    let b = json_body(&ctx, body)?;
    state
        .auth_limiter
        .check(&format!("tenant:{}:{}", ctx.caller.tenant, b.email.trim()))
        .map_err(|wait| ApiFailure {
            error: AppError::RateLimited,
            request_id: ctx.rid.clone(),
            retry_after: Some(wait.as_secs().max(1)),
        })?;
    let r = tenants::sign_in(&state.db, ctx.caller.tenant, &b.email, &b.password).await;
    tokens_answer(&ctx, StatusCode::OK, r)
}

/// Trades a refresh token for a new pair (the old refresh token is spent).
#[utoipa::path(post, path = "/api/v1/platform/sessions/refresh", tag = "platform",
    request_body = RefreshBody,
    responses((status = 200, body = ApiTokens), PlatformFailures, PlatformWriteFailures),
    security(("tenant_key" = [], "tenant_secret" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [])))]
async fn refresh(
    State(state): State<AppState>,
    ctx: Ctx,
    body: Result<Json<RefreshBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ApiTokens>)> {
    let b = json_body(&ctx, body)?;
    let r = tenants::refresh(&state.db, ctx.caller.tenant, &b.refresh_token).await;
    tokens_answer(&ctx, StatusCode::OK, r)
}

#[utoipa::path(get, path = "/api/v1/platform/users", tag = "platform",
    params(PageParams),
    responses((status = 200, body = Page<ApiTenantUser>), PlatformFailures),
    security(("tenant_key" = [], "tenant_secret" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [])))]
async fn list_users(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<ApiTenantUser>>> {
    let req = page_req(&ctx, &page)?;
    let mut rows = tenant_repo::users_page(&state.db, ctx.caller.tenant, req.after, req.limit + 1)
        .await
        .map_err(|e| ctx.fail(e.into()))?;
    let more = rows.len() as i64 > req.limit;
    rows.truncate(req.limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|u| u.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: rows.into_iter().map(ApiTenantUser::from).collect(),
        next_cursor,
    }))
}

async fn tenant_user(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
) -> ApiResult<tenant_repo::TenantUserRow> {
    tenant_repo::user(&state.db, ctx.caller.tenant, TenantUserId(id))
        .await
        .map_err(|e| ctx.fail(e.into()))?
        .ok_or_else(|| ctx.fail(AppError::NotFound))
}

#[utoipa::path(get, path = "/api/v1/platform/users/{id}", tag = "platform",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = ApiTenantUser), PlatformFailures),
    security(("tenant_key" = [], "tenant_secret" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [])))]
async fn get_user(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApiTenantUser>> {
    Ok(Json(tenant_user(&state, &ctx, id).await?.into()))
}

/// One user's month so far.
#[utoipa::path(get, path = "/api/v1/platform/users/{id}/usage", tag = "platform",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = ApiUserUsage), PlatformFailures),
    security(("tenant_key" = [], "tenant_secret" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [])))]
async fn user_usage(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApiUserUsage>> {
    let u = tenant_user(&state, &ctx, id).await?;
    let since = tenants::month_start_day(crate::db::now());
    let (rx, tx, secs, devices) = tenant_repo::user_usage(&state.db, u.user_id, since)
        .await
        .map_err(|e| ctx.fail(e.into()))?;
    Ok(Json(ApiUserUsage {
        user_id: u.id.0,
        devices,
        rx_bytes: rx,
        tx_bytes: tx,
        connected_seconds: secs,
    }))
}

/// The tenant's month so far, with its plan's limits.
#[utoipa::path(get, path = "/api/v1/platform/usage", tag = "platform",
    responses((status = 200, body = ApiTenantUsage), PlatformFailures),
    security(("tenant_key" = [], "tenant_secret" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [])))]
async fn tenant_usage(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<ApiTenantUsage>> {
    let since = tenants::month_start_day(crate::db::now());
    let u = tenant_repo::tenant_usage(&state.db, ctx.caller.tenant, since)
        .await
        .map_err(|e| ctx.fail(e.into()))?;
    let limits = crate::entitlements::tenant_limits(&state.db.pool, ctx.caller.tenant.0)
        .await
        .map_err(|e| ctx.fail(e.into()))?
        .ok_or_else(|| ctx.fail(AppError::NotFound))?;
    Ok(Json(ApiTenantUsage {
        users: u.users,
        active_users: u.active_users,
        devices: u.devices,
        rx_bytes: u.rx_bytes,
        tx_bytes: u.tx_bytes,
        connected_seconds: u.connected_seconds,
        api_calls: u.api_calls,
        max_users: limits.users.max(),
        max_devices: limits.devices.max(),
        bandwidth_bytes_per_month: limits.bandwidth_bytes,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlatformServerFilter {
    /// Only servers in this region.
    #[param(max_length = 32)]
    region: Option<String>,
}

/// Servers the tenant's users may be put on, with load and region (the
/// rule the pages use: active, enrolled and reporting; no one's dedicated
/// server; premium ones when the tenant's plan includes them).
#[utoipa::path(get, path = "/api/v1/platform/servers", tag = "platform",
    params(PageParams, PlatformServerFilter),
    responses((status = 200, body = Page<ApiServer>), PlatformFailures),
    security(("tenant_key" = [], "tenant_secret" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [])))]
async fn list_servers(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(page): Query<PageParams>,
    Query(filter): Query<PlatformServerFilter>,
) -> ApiResult<Json<Page<ApiServer>>> {
    let req = page_req(&ctx, &page)?;
    if filter
        .region
        .as_ref()
        .is_some_and(|r| r.chars().count() > 32)
    {
        return Err(ctx.fail(AppError::invalid_field("region", "Unknown region.")));
    }
    let limits = crate::entitlements::tenant_limits(&state.db.pool, ctx.caller.tenant.0)
        .await
        .map_err(|e| ctx.fail(e.into()))?
        .ok_or_else(|| ctx.fail(AppError::NotFound))?;
    let list = servers::list_servers(&state.db, servers::NodeFreshness::of(&state))
        .await
        .map_err(|e| ctx.fail(e))?;
    let region = filter.region.map(|r| r.trim().to_lowercase());
    let list = list
        .into_iter()
        // User id 0 is nobody's: no dedicated server is offered.
        .filter(|s| servers::offered(s, 0, limits.premium_servers))
        .filter(|s| region.as_deref().is_none_or(|r| s.region == r))
        .map(ApiServer::from)
        .collect();
    Ok(Json(page_of(list, |s: &ApiServer| s.id(), &req)))
}

/// The signed-in user's devices.
#[utoipa::path(get, path = "/api/v1/platform/me/devices", tag = "platform",
    params(PageParams),
    responses((status = 200, body = Page<ApiDevice>), PlatformFailures),
    security(("tenant_key" = [], "tenant_secret" = [], "tenant_user" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [], "tenant_user" = [])))]
async fn my_devices(
    State(state): State<AppState>,
    user: UserCtx,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<ApiDevice>>> {
    let ctx = &user.ctx;
    let req = page_req(ctx, &page)?;
    let mut rows =
        vpn_repo::user_devices_page(&state.db, user.account.id, req.after, req.limit + 1, None)
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

/// Adds a device for the signed-in user from its public key and returns
/// its config; the tenant's device limit counts every user's devices.
#[utoipa::path(post, path = "/api/v1/platform/me/devices", tag = "platform",
    request_body = CreateDeviceBody,
    responses((status = 201, body = ApiCreatedDevice), PlatformFailures, PlatformWriteFailures),
    security(("tenant_key" = [], "tenant_secret" = [], "tenant_user" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [], "tenant_user" = [])))]
async fn create_my_device(
    State(state): State<AppState>,
    user: UserCtx,
    body: Result<Json<CreateDeviceBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ApiCreatedDevice>)> {
    let ctx = &user.ctx;
    let input = devices::NewDevice::try_from(json_body(ctx, body)?).map_err(|e| ctx.fail(e))?;
    state
        .device_limiter
        .check(&user.account.id.to_string())
        .map_err(|wait| ApiFailure {
            error: AppError::RateLimited,
            request_id: ctx.rid.clone(),
            retry_after: Some(wait.as_secs().max(1)),
        })?;
    let c = devices::create_device(&state, &user.account, input)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok((StatusCode::CREATED, Json(created(c))))
}

#[utoipa::path(delete, path = "/api/v1/platform/me/devices/{id}", tag = "platform",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 204, description = "Removed."), PlatformFailures),
    security(("tenant_key" = [], "tenant_secret" = [], "tenant_user" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [], "tenant_user" = [])))]
async fn delete_my_device(
    State(state): State<AppState>,
    user: UserCtx,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let ctx = &user.ctx;
    devices::delete_device(&state, &user.account, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The device's WireGuard config (`PrivateKey` is a placeholder).
#[utoipa::path(get, path = "/api/v1/platform/me/devices/{id}/config", tag = "platform",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, content_type = "text/plain", body = String), PlatformFailures),
    security(("tenant_key" = [], "tenant_secret" = [], "tenant_user" = []), ("tenant_key" = [], "tenant_timestamp" = [], "tenant_signature" = [], "tenant_user" = [])))]
async fn my_device_config(
    State(state): State<AppState>,
    user: UserCtx,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let ctx = &user.ctx;
    let (file_name, config) = devices::device_config(&state, &user.account, id)
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

// ------------------------------------------------------------ the router

struct TenantSchemes;

impl Modify for TenantSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let header = |name: &str, what: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(name, what)))
        };
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "tenant_key",
                header(
                    "X-TrueVault-Key",
                    "The credential's key id (tvtk_…), from the developer section.",
                ),
            );
            c.add_security_scheme(
                "tenant_secret",
                header(
                    "X-TrueVault-Secret",
                    "The credential's secret (tvts_…), shown once. Or sign the request instead.",
                ),
            );
            c.add_security_scheme(
                "tenant_timestamp",
                header(
                    "X-TrueVault-Timestamp",
                    "Signed requests: the Unix time in seconds; more than 300 s from the \
                     portal's clock is refused (SIGNATURE_EXPIRED).",
                ),
            );
            c.add_security_scheme(
                "tenant_signature",
                header(
                    "X-TrueVault-Signature",
                    "Signed requests: `v1=` and the lowercase hex HMAC-SHA256 of \
                     `timestamp\\nMETHOD\\npath?query\\nhex(sha256(body))`, keyed with the \
                     lowercase hex SHA-256 of the secret. Each signature is accepted once \
                     (SIGNATURE_REPLAYED).",
                ),
            );
            c.add_security_scheme(
                "tenant_user",
                header(
                    "X-TrueVault-User-Token",
                    "A tenant user's access token (tvua_…) from sign-in, register or refresh.",
                ),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&TenantSchemes),
    components(schemas(ErrorEnvelope)),
    tags((name = "platform", description = "For businesses (tenants): their own users, \
        their devices, servers and usage. Authenticate with a tenant credential as headers \
        or an HMAC signature; calls for a user add the user's access token."))
)]
struct PlatformDoc;

/// The platform's routes and their part of the document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(PlatformDoc::openapi())
        .routes(routes!(register_user, list_users))
        .routes(routes!(sign_in))
        .routes(routes!(refresh))
        .routes(routes!(get_user))
        .routes(routes!(user_usage))
        .routes(routes!(tenant_usage))
        .routes(routes!(list_servers))
        .routes(routes!(my_devices, create_my_device))
        .routes(routes!(delete_my_device))
        .routes(routes!(my_device_config))
}

/// The routes behind the credential check.
pub fn layered(routes: axum::Router<AppState>, state: AppState) -> axum::Router<AppState> {
    routes.layer(axum::middleware::from_fn_with_state(state, with_tenant))
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Authenticates the tenant credential (headers or signature), counts its
/// rate limit, and audits what changes.
async fn with_tenant(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let rid = super::request_id();
    let fail = |error: AppError, retry_after: Option<u64>| {
        ApiFailure {
            error,
            request_id: rid.clone(),
            retry_after,
        }
        .into_response()
    };
    let h = req.headers();
    let key_id = header_str(h, KEY_HEADER).unwrap_or_default().to_string();
    let signature = header_str(h, SIGNATURE_HEADER).map(String::from);
    let timestamp = header_str(h, TIMESTAMP_HEADER).map(String::from);
    let secret = header_str(h, SECRET_HEADER).map(String::from);
    let ip = super::client_ip(h);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let at = crate::db::now();
    let (caller, mut req) = match signature {
        Some(signature) => {
            let path_and_query = req
                .uri()
                .path_and_query()
                .map_or(path.clone(), |p| p.as_str().to_string());
            let (parts, body) = req.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
                return fail(AppError::PayloadTooLarge, None);
            };
            let presented = Presented::Signed {
                key_id: &key_id,
                timestamp: timestamp.as_deref().unwrap_or_default(),
                signature: &signature,
                method: method.as_str(),
                path_and_query: &path_and_query,
                body: &bytes,
            };
            match tenants::authenticate(&state.db, presented, at).await {
                Ok(c) => (c, Request::from_parts(parts, Body::from(bytes))),
                Err(e) => return fail(e, None),
            }
        }
        None => {
            let presented = Presented::Secret {
                key_id: &key_id,
                secret: secret.as_deref().unwrap_or_default(),
            };
            match tenants::authenticate(&state.db, presented, at).await {
                Ok(c) => (c, req),
                Err(e) => return fail(e, None),
            }
        }
    };
    if let Err(wait) = state
        .api_limiter
        .check(&format!("tenant-credential:{}", caller.credential))
    {
        return fail(AppError::RateLimited, Some(wait.as_secs().max(1)));
    }
    req.extensions_mut().insert(caller);
    req.extensions_mut().insert(RequestId(rid.clone()));
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&rid) {
        res.headers_mut().insert("x-request-id", v);
    }
    if method != Method::GET && method != Method::HEAD {
        audit::record(
            &state.db,
            None,
            "tenant.call",
            &format!("tenant {}", caller.tenant),
            &ip,
            &format!(
                "{method} {path} credential {} status {}",
                caller.credential,
                res.status().as_u16()
            ),
        )
        .await;
    }
    res
}
