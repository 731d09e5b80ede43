//! Builds the application: database, migrations, keys, mailer, router and
//! middleware; binds the listener; serves until shutdown. Tests use the same
//! path with port 0 and a fresh database.

use std::{future::Future, net::SocketAddr, path::Path, sync::Arc};

use axum::{
    extract::{Path as UrlPath, State},
    http::{header, StatusCode},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tower_http::{
    limit::RequestBodyLimitLayer, set_header::SetResponseHeaderLayer, trace::TraceLayer,
};

use crate::{
    config::Config,
    db::Db,
    http::{self, context::RequestContext, rate_limit::RateLimiter},
    mail::Mailer,
    secrets::Keys,
    state::AppState,
    themes::{cache::ThemeCache, model::render_css, repo as theme_repo},
    ui::{shell, App},
};

/// How long requests still running after SIGTERM may take to finish.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Largest request body accepted anywhere (forms, server functions, API).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("secrets: {0}")]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::MailError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(std::io::Error),
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
}

impl Application {
    /// With `listen` on port 0 (tests), the OS picks a port and
    /// `public_url` becomes `http://127.0.0.1:{port}`.
    pub async fn build(mut config: Config) -> Result<Self, StartupError> {
        config.validate()?;
        let db = Db::connect(&config.database_url(), config.db_max_connections).await?;
        db.migrate().await?;
        let keys = Keys::load_or_generate(
            &config.data_dir,
            config.session_key.as_ref(),
            config.encryption_key.as_ref(),
        )?;
        let mailer = Mailer::new(db.clone(), &config)?;
        let leptos_options = LeptosOptions::builder()
            .output_name("truevault")
            .site_root(config.site_root.display().to_string())
            // The bundle's URLs carry its build (`http::assets`).
            .site_pkg_dir(format!(
                "pkg/{}",
                http::assets::build_id(&config.site_root.join("pkg"))
            ))
            .build();
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.listen,
                    source,
                })?;
        // Port 0 (tests): the default URL follows the port picked; an explicit one stays.
        if config.listen.port() == 0 && config.public_url == Config::default().public_url {
            if let Ok(addr) = listener.local_addr() {
                config.public_url = format!("http://{addr}");
            }
        }
        let payments = Arc::new(crate::billing::checkout::PaymentClients::from_config(
            &config.billing,
        ));
        let cameras = crate::cameras::relay::CameraRelay::start(
            db.clone(),
            std::time::Duration::from_millis(config.camera_linger_ms),
        );
        let node_changes: Arc<tokio::sync::Notify> = Default::default();
        let live = crate::live::LiveBus::new(db.engine == crate::db::Engine::Postgres);
        if db.engine == crate::db::Engine::Postgres {
            // Events published on any instance reach this one's pages.
            live.listen(&config.database_url()).await?;
        }
        let device_writer =
            crate::vpn::writer::DeviceWriter::start(db.clone(), node_changes.clone());
        let state = AppState {
            cameras,
            device_writer,
            db,
            auth_limiter: RateLimiter::new(config.auth_rate_per_minute),
            device_limiter: RateLimiter::new(config.device_changes_per_minute),
            api_limiter: RateLimiter::new(config.api_requests_per_minute),
            node_configs: Default::default(),
            connections: Default::default(),
            config: Arc::new(config),
            keys: Arc::new(keys),
            mailer,
            metrics: Default::default(),
            themes: ThemeCache::default(),
            leptos_options,
            node_changes,
            clock: Default::default(),
            jobs_changed: Default::default(),
            payments,
            stopping: Default::default(),
            live,
            workflows: Arc::new(workflows()),
        };
        // Before anything runs, so a test's clock moves after it.
        crate::apikeys::workflows::ensure_scheduled(&state.db, &state.clock).await?;
        let router = router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let worker = format!("{}-{}", std::process::id(), crate::api::request_id());
        crate::jobs::spawn_worker(self.state.clone(), worker);
        let config = self.state.config.clone();
        if let Some(addr) = config.metrics.listen {
            let metrics = TcpListener::bind(addr)
                .await
                .map_err(|source| StartupError::Bind { addr, source })?;
            let app = Router::new()
                .route("/metrics", get(http::metrics::handler))
                .with_state(self.state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(metrics, app).await {
                    tracing::error!(error = %e, "metrics listener failed");
                }
            });
        }
        let stopping = self.state.stopping.clone();
        let shutdown = async move {
            shutdown.await;
            // Held long-polls answer now; graceful shutdown then only waits
            // for requests that are really working.
            stopping.begin();
        };
        let connections = self.state.connections.clone();
        serve(
            self.listener,
            self.router,
            &config.http,
            connections,
            shutdown,
        )
        .await
    }
}

/// Every concept's scheduled workflows: the scheduler runs a stored step
/// only through the workflow registered under its name.
fn workflows() -> crate::jobs::Workflows<AppState> {
    use crate::{accounts, billing, certs, vpn};
    crate::jobs::Workflows::default()
        .register::<accounts::workflows::Signup>()
        .register::<billing::workflows::Billing>()
        .register::<billing::workflows::Dunning>()
        .register::<billing::workflows::Expiry>()
        .register::<vpn::workflows::DataCap>()
        .register::<certs::service::Certs>()
        .register::<crate::apikeys::workflows::ApiHousekeeping>()
}

/// The accept loop: `axum::serve` plus what it has no knobs for — a cap on
/// open connections and a header-read timeout (slow-loris sockets are
/// closed instead of held), with graceful shutdown.
async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &crate::config::HttpConfig,
    connections: Arc<crate::http::limits::Connections>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    use hyper_util::{
        rt::{TokioExecutor, TokioIo, TokioTimer},
        server::conn::auto::Builder,
        service::TowerToHyperService,
    };
    use tower::ServiceExt;

    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let header_timeout = std::time::Duration::from_millis(limits.header_read_timeout_ms.max(1));
    // Dropped on shutdown: connections then finish their current request.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the cap, stop accepting: new connections wait in the backlog.
        connections.set_at_cap(permits.available_permits() == 0);
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        connections.set_at_cap(false);
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Pages stream in several writes; without TCP_NODELAY, Nagle and
        // delayed ACKs add ~40 ms to every page.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::trace!(error = %e, "could not set TCP_NODELAY");
        }
        let service = router.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req.map(axum::body::Body::new)
            },
        );
        let mut stop = stop_rx.clone();
        connections.opened();
        let connections = connections.clone();
        tokio::spawn(async move {
            let _permit = permit;
            // Counted until this task ends, however the connection ends.
            struct Open(Arc<crate::http::limits::Connections>);
            impl Drop for Open {
                fn drop(&mut self) {
                    self.0.closed();
                }
            }
            let _open = Open(connections);
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection_with_upgrades(
                TokioIo::new(tcp),
                TowerToHyperService::new(service),
            );
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                res = conn.as_mut() => {
                    if let Err(e) = res {
                        tracing::trace!(error = %e, "connection ended");
                    }
                    return;
                }
                _ = stop.changed() => conn.as_mut().graceful_shutdown(),
            }
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection ended");
            }
        });
    }
    drop(stop_rx);
    drop(stop_tx);
    // Wait for in-flight connections to finish; a request that ignores the
    // signal does not hold the process longer than the grace period.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(grace = ?SHUTDOWN_GRACE, "requests still running at shutdown were cut off");
    }
    Ok(())
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let pkg_dir = Path::new(&*state.leptos_options.site_root).join("pkg");
    let ctx_state = state.clone();
    let error_state = state.clone();
    let shell_options = state.leptos_options.clone();
    let error_options = state.leptos_options.clone();

    Router::new()
        .route("/health", get(http::health::handler))
        .route("/metrics", get(http::metrics::guarded))
        .route("/theme-preview/{file}", get(theme_preview_css))
        .merge(crate::cameras::live::router())
        .merge(crate::live::router())
        .merge(crate::certs::routes::router())
        .route(
            "/devices/download",
            axum::routing::post(crate::vpn::download::handler),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_request_context(&ctx_state),
            move || shell(shell_options.clone()),
        )
        .merge(http::assets::router(
            &pkg_dir,
            &format!("/{}", state.leptos_options.site_pkg_dir),
        ))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(
            // The 404 page gets the same context as every other page, so its
            // scripts carry the nonce its CSP header names.
            move || provide_request_context(&error_state),
            move |_| shell(error_options.clone()),
        ))
        // Inside the context layer: it needs the signed-in user.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::rate_limit::device_changes,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::context::middleware,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::rate_limit::auth_endpoints,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::security::csrf,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // Without a Content-Length the limit above trips mid-read, which
        // server functions report as a 500: read such bodies here first.
        .layer(middleware::from_fn(http::body::limit_unsized))
        // The agent API sets its own (larger) body limits per route.
        .merge(crate::api::router(state.clone()))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::security::baseline_headers,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::metrics::middleware,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::limits::request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::client::middleware,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            http::assets::html_cache_control,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Makes the app state and this request's CSP nonce available to pages and
/// server functions.
fn provide_request_context(state: &AppState) {
    provide_context(state.clone());
    if let Some(ctx) = use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<RequestContext>().cloned())
    {
        provide_context(leptos::nonce::Nonce::from_value(ctx.nonce));
    }
}

/// `/theme-preview/{id}.css`: a theme's variables scoped to
/// `.theme-preview`, for the admin's preview (a stylesheet from our own
/// origin, so the CSP needs no inline style).
async fn theme_preview_css(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
    req: axum::extract::Request,
) -> Response {
    let is_admin = req
        .extensions()
        .get::<RequestContext>()
        .and_then(|c| c.user.as_ref())
        .is_some_and(|u| u.is_admin());
    if !is_admin {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(id) = file
        .strip_suffix(".css")
        .and_then(|s| s.parse::<i64>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match theme_repo::get(&state.db, id).await {
        Ok(Some(theme)) => {
            let css = render_css(&theme.variables).replacen(":root", ".theme-preview", 1);
            (
                [
                    (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                css,
            )
                .into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
