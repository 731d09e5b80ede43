//! `TestApp`: the real portal on a random port with a fresh database.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use reqwest::{header, redirect, Client, Response};
use sqlx::Row;
use truevault::{
    accounts::{model::Role, service},
    config::Config,
    db::Db,
    startup::Application,
    state::AppState,
};

pub struct TestApp {
    /// Where tests connect: plain http on loopback.
    pub address: String,
    /// `public_url`: what our pages' `Origin` is.
    pub origin: String,
    pub state: AppState,
    pub dir: PathBuf,
    pg_cleanup: Option<(String, String)>,
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(customize: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_until(customize, std::future::pending()).await.0
    }

    /// Serves until `shutdown` resolves; the handle ends when the server has stopped.
    pub async fn spawn_until(
        customize: impl FnOnce(&mut Config),
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> (
        Self,
        tokio::task::JoinHandle<Result<(), truevault::startup::StartupError>>,
    ) {
        let dir = std::env::temp_dir().join(format!("tv-test-{}", random_suffix()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.clone(),
            auth_rate_per_minute: 1000,
            device_changes_per_minute: 1000,
            ..Config::default()
        };
        let mut pg_cleanup = None;
        if let Ok(admin_url) = std::env::var("TRUEVAULT_TEST_PG_URL") {
            let name = format!("tv_test_{}", random_suffix());
            let admin = Db::connect(&admin_url, 1)
                .await
                .expect("connect to the test PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin.pool)
                .await
                .expect("create database");
            admin.pool.close().await;
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .expect("url has a database");
            config.database_url = Some(format!("{base}/{name}"));
            pg_cleanup = Some((admin_url, name));
        }
        customize(&mut config);
        let app = Application::build(config).await.expect("build app");
        // The address the test asked for (the namespace labs listen on a
        // veth address, not loopback); an unspecified one is reached on loopback.
        let ip = match app.state.config.listen.ip() {
            ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
            ip => ip,
        };
        let address = format!("http://{}", SocketAddr::new(ip, app.port()));
        let origin = app.state.config.public_url_trimmed().to_string();
        let state = app.state.clone();
        let server = tokio::spawn(app.run_until(shutdown));
        (
            Self {
                address,
                origin,
                state,
                dir,
                pg_cleanup,
            },
            server,
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A same-origin form POST, as a browser on our page sends it.
    pub async fn post_form(&self, client: &Client, path: &str, form: &[(&str, &str)]) -> Response {
        client
            .post(self.url(path))
            .header(header::ORIGIN, &self.origin)
            .form(form)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, client: &Client, path: &str) -> Response {
        client
            .get(self.url(path))
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .expect("request")
    }

    /// The page's body. Read chunk by chunk so that a stream that stops
    /// mid-page (a server-rendered boundary that never resolves) fails with
    /// what had arrived, which names the part of the page that hung.
    pub async fn get_html(&self, client: &Client, path: &str) -> String {
        read_body(self.get(client, path).await, path).await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(&self.state.db.pool)
            .await
            .expect("count")
            .try_get(0)
            .expect("count column")
    }

    /// The newest outbox mail to `to`: (subject, body).
    pub async fn last_mail_to(&self, to: &str) -> Option<(String, String)> {
        let row = sqlx::query("SELECT subject, body_text FROM mail_outbox WHERE to_addr = $1 ORDER BY id DESC LIMIT 1")
            .bind(to)
            .fetch_optional(&self.state.db.pool)
            .await
            .expect("outbox");
        row.map(|r| {
            (
                r.get("subject"),
                r.get::<Option<String>, _>("body_text").unwrap_or_default(),
            )
        })
    }

    pub async fn mail_count(&self, to: &str) -> i64 {
        sqlx::query("SELECT COUNT(*) FROM mail_outbox WHERE to_addr = $1")
            .bind(to)
            .fetch_one(&self.state.db.pool)
            .await
            .expect("count")
            .get(0)
    }

    pub async fn register(&self, client: &Client, email: &str) -> Response {
        self.post_form(
            client,
            "/api/auth/register",
            &[
                ("email", email),
                ("password", PASSWORD),
                ("first_name", "Ada"),
            ],
        )
        .await
    }

    /// Registers, follows the mailed link, and returns a signed-in client.
    pub async fn signed_in_user(&self, email: &str) -> Client {
        let client = new_client();
        let res = self.register(&client, email).await;
        assert!(res.status().is_success(), "register: {}", res.status());
        let (_, body) = self.last_mail_to(email).await.expect("verification mail");
        let token = token_from(&body, "/verify?token=");
        let res = self
            .post_form(&client, "/api/auth/verify", &[("token", &token)])
            .await;
        assert!(redirected(&res), "verify: {}", res.status());
        self.login(&client, email, PASSWORD).await;
        client
    }

    pub async fn login(&self, client: &Client, email: &str, password: &str) -> Response {
        self.post_form(
            client,
            "/api/auth/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn signed_in_admin(&self, email: &str) -> Client {
        service::create_verified_user(&self.state.db, email, PASSWORD, Role::Admin)
            .await
            .expect("create admin");
        let client = new_client();
        let res = self.login(&client, email, PASSWORD).await;
        assert!(redirected(&res), "admin login: {}", res.status());
        client
    }

    /// Waits (5 s at most) until `n` requests are parked in a long-poll
    /// (`truevault_held_requests`), so a change made next is one they see
    /// while held, not before they arrive.
    pub async fn wait_held(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.state.stopping.held() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {n} long-polls held after 5 s",
                self.state.stopping.held()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs due workflow steps until none is due or running (the app's own
    /// worker runs beside us, so its claims are waited for too).
    pub async fn settle_jobs(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            truevault::jobs::run_due(&self.state, "test")
                .await
                .expect("run steps");
            let now = self.state.clock.now();
            let busy = self
                .count(&format!(
                    "SELECT COUNT(*) FROM jobs WHERE status = 'running' OR (status = 'pending' AND due_at <= {now})"
                ))
                .await;
            if busy == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "steps did not settle: {busy} left"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Subscribes `user` to the plan `slug` on the built-in test provider
    /// (monthly): a checkout, then the test payment page answered with
    /// `result` (`pay`, `pay_fail_renewals`, …). Returns the reference.
    pub async fn subscribe(&self, user: &Client, slug: &str, result: &str) -> String {
        let id = self
            .count(&format!("SELECT id FROM plans WHERE slug = '{slug}'"))
            .await
            .to_string();
        let res = self
            .post_form(
                user,
                "/api/billing/checkout",
                &[("plan_id", &id), ("cycle", "monthly"), ("provider", "test")],
            )
            .await;
        let location = res
            .headers()
            .get("location")
            .or_else(|| res.headers().get("serverfnredirect"))
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .unwrap_or_else(|| panic!("checkout redirects: {}", res.status()));
        let reference = location.rsplit('/').next().expect("reference").to_string();
        let page = self
            .get_html(user, &format!("/billing/test-pay/{reference}"))
            .await;
        assert!(
            page.contains("data-testid=\"test-amount\""),
            "the test provider shows what is paid"
        );
        let res = self
            .post_form(
                user,
                "/api/billing/test_pay",
                &[("reference", &reference), ("result", result)],
            )
            .await;
        assert!(redirected(&res), "paid: {}", res.status());
        self.settle_jobs().await;
        reference
    }

    /// Whether `client` is signed in, judged by the account server function.
    pub async fn whoami(&self, client: &Client) -> Option<String> {
        let res = self.post_form(client, "/api/account/me", &[]).await;
        let v: serde_json::Value = res.json().await.ok()?;
        v.get("email").and_then(|e| e.as_str()).map(String::from)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin_url, name)) = self.pg_cleanup.take() {
            // Best effort, on a separate runtime: the test's runtime is going
            // away. Bounded, so a slow server cannot hold the suite; the
            // whole throwaway cluster is deleted after the run anyway.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async move {
                        let drop_db = async {
                            if let Ok(admin) = Db::connect(&admin_url, 1).await {
                                let _ = sqlx::query(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .execute(&admin.pool)
                                .await;
                                admin.pool.close().await;
                            }
                        };
                        if tokio::time::timeout(Duration::from_secs(15), drop_db)
                            .await
                            .is_err()
                        {
                            eprintln!("warning: dropping test database {name} timed out");
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// A browser-like client: keeps cookies, does not follow redirects (tests
/// look at them).
/// A server function answered with a redirect: a 3xx for plain form posts,
/// or the `serverfnredirect` header for script-driven calls.
pub fn redirected(res: &Response) -> bool {
    res.status().is_redirection() || res.headers().contains_key("serverfnredirect")
}

pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        // A page that has not answered in a minute is a failure, not a wait.
        .timeout(Duration::from_secs(60))
        .redirect(redirect::Policy::none())
        .build()
        .expect("client")
}

/// The portal's served OpenAPI document, fetched without a credential.
pub async fn openapi_document(app: &TestApp) -> serde_json::Value {
    let res = new_client()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("document");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    res.json().await.expect("document is JSON")
}

pub fn random_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        nanos
    )
}

/// Extracts the token after `marker` in a mailed body.
pub fn token_from(body: &str, marker: &str) -> String {
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in mail: {body}"))
        + marker.len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A server function's error as clients read it: the status, the stable
/// code and (for validation) the form field at fault.
#[derive(Debug)]
pub struct Failure {
    pub status: reqwest::StatusCode,
    pub code: String,
    pub field: Option<String>,
    pub limit: Option<i64>,
}

impl Failure {
    pub fn from_body(status: reqwest::StatusCode, body: &str) -> Self {
        let v: serde_json::Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{status}: not an error body ({e}): {body}"));
        Failure {
            status,
            code: v["code"].as_str().unwrap_or_default().to_string(),
            field: v["field"].as_str().map(String::from),
            limit: v["limit"].as_i64(),
        }
    }

    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }
}

pub async fn failure(res: Response) -> Failure {
    let status = res.status();
    let body = res.text().await.expect("body");
    Failure::from_body(status, &body)
}

/// Sends raw bytes on a fresh connection and returns what the server
/// answered before closing (or `None` if it did not answer in `wait`).
pub async fn raw_http(
    address: &str,
    head: &str,
    body: &[u8],
    keep_open: bool,
    wait: Duration,
) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(body).await.expect("body");
    if !keep_open {
        stream.shutdown().await.ok();
    }
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    // Enough for a status line and headers: an answer came.
                    if keep_open && buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    };
    tokio::time::timeout(wait, read).await.ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A response's body, read chunk by chunk: a stream that goes silent for
/// 20 s fails with the tail of what had arrived (see `TestApp::get_html`).
pub async fn read_body(mut res: Response, path: &str) -> String {
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), res.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            Ok(Ok(None)) => break,
            Ok(Err(e)) => panic!("body of {path}: {e:?}"),
            Err(_) => {
                let text = String::from_utf8_lossy(&body);
                let tail: String = text
                    .chars()
                    .rev()
                    .take(1500)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                panic!(
                    "body of {path} stalled for 20 s after {} bytes; it ended with:\n{tail}",
                    body.len()
                );
            }
        }
    }
    String::from_utf8(body).expect("utf-8 body")
}
