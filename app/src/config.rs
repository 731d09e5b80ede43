//! One typed configuration, read from an optional TOML file and then from
//! `TRUEVAULT_*` environment variables (nested keys use `__`, e.g.
//! `TRUEVAULT_SMTP__HOST`). Every field has a default that works on a first
//! run: a SQLite file under `./data`, mail written to the local outbox.

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};

use crate::secrets::SecretString;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// The URL users reach the portal at; used in mailed links and to decide
    /// whether cookies are `Secure`.
    pub public_url: String,
    /// `sqlite://…` (default, a file under `data_dir`) or `postgres://…`.
    pub database_url: Option<String>,
    /// Where the SQLite file, generated secrets and first-run files live.
    pub data_dir: PathBuf,
    /// Directory holding `pkg/` (the wasm bundle) and static assets.
    pub site_root: PathBuf,
    /// 32+ byte key (base64) for session-independent MACs; generated on first run.
    pub session_key: Option<SecretString>,
    /// 32-byte key (base64) encrypting secrets at rest; generated on first run.
    pub encryption_key: Option<SecretString>,
    pub smtp: Option<SmtpConfig>,
    pub mail_from: String,
    pub support_email: String,
    /// Origins besides `public_url` whose pages may send state-changing
    /// requests (e.g. a second host name of the portal), `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For`
    /// names the client. Empty: the peer address is the client.
    pub trusted_proxies: Vec<String>,
    /// Requests per minute per client address on authentication endpoints.
    pub auth_rate_per_minute: u32,
    /// Device creations, re-keys, tunnel switches and removals per user per
    /// minute: each one rewrites a node's desired state.
    pub device_changes_per_minute: u32,
    /// Public API requests per API key per minute (per portal instance).
    pub api_requests_per_minute: u32,
    /// Live camera views one user may hold open at once (each is a relay
    /// queue and, for a new camera, a pull from the gateway).
    pub max_live_viewers_per_user: u32,
    /// Max database connections.
    pub db_max_connections: u32,
    /// Log as JSON lines instead of human-readable text.
    pub log_json: bool,
    pub billing: BillingConfig,
    pub http: HttpConfig,
    pub metrics: MetricsConfig,
    /// How long a camera pull outlives its last viewer (a viewer who
    /// reloads the page finds it still running).
    pub camera_linger_ms: u64,
    /// Seconds without a stats report after which a node is stale: its
    /// server is not chosen for new devices, `/health` says degraded and
    /// the admin's servers page says so. Nodes report every 30 s by default.
    pub node_stale_after_secs: u32,
}

/// Payment providers. The built-in test provider sells plans for no money,
/// so it is opt-in: on by default only for the first-run embedded set-up
/// (no real provider, `public_url` on loopback http).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingConfig {
    /// Turn the test provider on or off; default: on only when no real
    /// provider is configured and `public_url` is `http://` on loopback.
    pub test_provider: Option<bool>,
    /// `test_provider = true` with an `https://` `public_url` is refused at
    /// start-up (a production install) unless this is also set.
    pub test_provider_force: bool,
    pub stripe_api_base: String,
    pub stripe_secret_key: Option<SecretString>,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub stripe_webhook_secret: Option<SecretString>,
    pub paypal_api_base: String,
    pub paypal_client_id: Option<String>,
    pub paypal_secret: Option<SecretString>,
    pub paypal_webhook_id: Option<String>,
    /// PayPal billing plan ids, keyed `{plan slug}_{cycle}`, e.g. `personal_monthly`.
    pub paypal_plans: std::collections::BTreeMap<String, String>,
    /// Tax added to invoices, in basis points (2,100 = 21 %).
    pub tax_rate_bp: i64,
    /// Computed by [`Config::validate`]: the first-run embedded set-up.
    #[serde(skip)]
    test_default: bool,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            test_provider: None,
            test_provider_force: false,
            stripe_api_base: "https://api.stripe.com".into(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            paypal_api_base: "https://api-m.paypal.com".into(),
            paypal_client_id: None,
            paypal_secret: None,
            paypal_webhook_id: None,
            paypal_plans: Default::default(),
            tax_rate_bp: 0,
            test_default: false,
        }
    }
}

impl BillingConfig {
    pub fn stripe_enabled(&self) -> bool {
        self.stripe_secret_key.is_some() && self.stripe_webhook_secret.is_some()
    }

    pub fn paypal_enabled(&self) -> bool {
        self.paypal_client_id.is_some()
            && self.paypal_secret.is_some()
            && self.paypal_webhook_id.is_some()
    }

    /// Whether the test provider is on, given where users reach the portal.
    pub fn test_enabled(&self) -> bool {
        self.test_provider.unwrap_or(self.test_default)
    }

    /// Refuses a half-configured provider, naming the missing key, and the
    /// test provider on an https install unless forced.
    fn validate(&self, public_url: &url::Url) -> Result<(), ConfigError> {
        let stripe = [
            (
                "billing.stripe_secret_key",
                self.stripe_secret_key.is_some(),
            ),
            (
                "billing.stripe_webhook_secret",
                self.stripe_webhook_secret.is_some(),
            ),
        ];
        let paypal = [
            ("billing.paypal_client_id", self.paypal_client_id.is_some()),
            ("billing.paypal_secret", self.paypal_secret.is_some()),
            (
                "billing.paypal_webhook_id",
                self.paypal_webhook_id.is_some(),
            ),
        ];
        for (name, keys) in [("Stripe", &stripe[..]), ("PayPal", &paypal[..])] {
            if keys.iter().any(|(_, set)| *set) {
                if let Some((missing, _)) = keys.iter().find(|(_, set)| !*set) {
                    return Err(ConfigError::Invalid(format!(
                        "{name} is half-configured: {missing} is missing"
                    )));
                }
            }
        }
        if self.test_provider == Some(true)
            && public_url.scheme() == "https"
            && !self.test_provider_force
        {
            return Err(ConfigError::Invalid(
                "billing.test_provider sells plans for no money and public_url is https (a \
                 production install): set billing.test_provider_force = true to allow it"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Providers offered at checkout, in the order shown.
    pub fn providers(&self) -> Vec<crate::billing::model::Provider> {
        use crate::billing::model::Provider;
        let mut v = Vec::new();
        if self.stripe_enabled() {
            v.push(Provider::Stripe);
        }
        if self.paypal_enabled() {
            v.push(Provider::Paypal);
        }
        if self.test_enabled() {
            v.push(Provider::Test);
        }
        v
    }
}

/// Limits that keep slow or numerous clients from exhausting the portal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// A connection that has not sent a complete request head in this time is closed.
    pub header_read_timeout_ms: u64,
    /// A request (body included) that has no response in this time gets a
    /// 503. Not for WebSockets or the node long-poll, which bound themselves.
    pub request_timeout_ms: u64,
    /// Open connections at most; further ones wait in the kernel's backlog.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            max_connections: 10_000,
        }
    }
}

/// Where `/metrics` is served. It names routes and counts, so by default
/// only loopback peers of the main listener get it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// A separate listener for `/metrics` (then the main one does not serve it).
    pub listen: Option<SocketAddr>,
    /// With a token, any peer may read `/metrics` with `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    /// `none` (plain, loopback test servers), `starttls` or `tls`.
    #[serde(default = "default_smtp_security")]
    pub security: String,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_security() -> String {
    "starttls".into()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: "http://127.0.0.1:3000".into(),
            database_url: None,
            data_dir: PathBuf::from("data"),
            site_root: PathBuf::from("target/site"),
            session_key: None,
            encryption_key: None,
            smtp: None,
            mail_from: "TrueVault <no-reply@truevault.localhost>".into(),
            support_email: "support@truevault.localhost".into(),
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            auth_rate_per_minute: 30,
            device_changes_per_minute: 30,
            api_requests_per_minute: 600,
            max_live_viewers_per_user: 8,
            db_max_connections: 16,
            log_json: false,
            billing: BillingConfig::default(),
            http: HttpConfig::default(),
            metrics: MetricsConfig::default(),
            camera_linger_ms: 10_000,
            node_stale_after_secs: 90,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration is invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Load(#[from] Box<figment::Error>),
}

impl Config {
    /// Defaults, then the file (if given or if `truevault.toml` exists), then
    /// `TRUEVAULT_*` variables.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::Invalid(format!(
                        "config file {} does not exist",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("truevault.toml")),
        }
        let mut config: Config = figment
            .merge(Env::prefixed("TRUEVAULT_").split("__"))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types cannot say and derives the defaults that depend on
    /// other keys. `Application::build` runs it too, for configs built in code.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let url = url::Url::parse(&self.public_url)
            .map_err(|e| ConfigError::Invalid(format!("public_url: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid("public_url must be http(s)".into()));
        }
        self.billing.validate(&url)?;
        for p in &self.trusted_proxies {
            crate::http::client::Cidr::parse(p)
                .map_err(|e| ConfigError::Invalid(format!("trusted_proxies: {e}")))?;
        }
        self.billing.test_default = !self.billing.stripe_enabled()
            && !self.billing.paypal_enabled()
            && url.scheme() == "http"
            && is_loopback_host(&url);
        if let Some(db) = &self.database_url {
            if !(db.starts_with("sqlite:")
                || db.starts_with("postgres:")
                || db.starts_with("postgresql:"))
            {
                return Err(ConfigError::Invalid(
                    "database_url must start with sqlite: or postgres:".into(),
                ));
            }
        }
        if !(0..=10_000).contains(&self.billing.tax_rate_bp) {
            return Err(ConfigError::Invalid(
                "billing.tax_rate_bp must be between 0 and 10000".into(),
            ));
        }
        for base in [&self.billing.stripe_api_base, &self.billing.paypal_api_base] {
            url::Url::parse(base)
                .map_err(|e| ConfigError::Invalid(format!("billing API base {base}: {e}")))?;
        }
        if let Some(smtp) = &self.smtp {
            if !matches!(smtp.security.as_str(), "none" | "starttls" | "tls") {
                return Err(ConfigError::Invalid(
                    "smtp.security must be none, starttls or tls".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("truevault.db").display()
            )
        })
    }

    /// `trusted_proxies`, parsed (checked by [`Config::validate`]).
    pub fn trusted_proxy_blocks(&self) -> Vec<crate::http::client::Cidr> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| crate::http::client::Cidr::parse(p).ok())
            .collect()
    }

    /// Cookies get `Secure` when users reach us over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn public_url_trimmed(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// `localhost` or a loopback address: a URL only this machine can reach.
pub fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Config)) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        f(&mut c);
        c.validate().map(|_| c)
    }

    #[test]
    fn the_test_provider_is_on_only_for_a_loopback_first_run() {
        assert!(with(|_| {}).expect("default").billing.test_enabled());
        assert!(with(|c| c.public_url = "http://localhost:3000".into())
            .expect("localhost")
            .billing
            .test_enabled());
        for url in [
            "https://vpn.example.com",
            "http://vpn.example.com",
            "http://192.0.2.7:3000",
        ] {
            let c = with(|c| c.public_url = url.into()).expect("valid");
            assert!(!c.billing.test_enabled(), "{url}: off unless asked for");
            assert!(c.billing.providers().is_empty(), "{url}");
        }
        let stripe = with(|c| {
            c.billing.stripe_secret_key = Some(SecretString::new("sk"));
            c.billing.stripe_webhook_secret = Some(SecretString::new("whsec"));
        })
        .expect("stripe");
        assert_eq!(
            stripe
                .billing
                .providers()
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
            vec!["stripe".to_string()]
        );
        let opted = with(|c| {
            c.public_url = "http://vpn.example.com".into();
            c.billing.test_provider = Some(true);
        })
        .expect("opt-in on http");
        assert!(opted.billing.test_enabled());
    }

    #[test]
    fn https_refuses_the_test_provider_unless_forced() {
        let err = with(|c| {
            c.public_url = "https://vpn.example.com".into();
            c.billing.test_provider = Some(true);
        })
        .expect_err("refused");
        assert!(
            err.to_string().contains("billing.test_provider_force"),
            "{err}"
        );
        let forced = with(|c| {
            c.public_url = "https://vpn.example.com".into();
            c.billing.test_provider = Some(true);
            c.billing.test_provider_force = true;
        })
        .expect("forced");
        assert!(forced.billing.test_enabled());
    }

    #[test]
    fn a_half_configured_provider_names_the_missing_key() {
        let err = with(|c| c.billing.stripe_secret_key = Some(SecretString::new("sk")))
            .expect_err("half Stripe");
        assert!(
            err.to_string().contains("billing.stripe_webhook_secret"),
            "{err}"
        );
        let err = with(|c| {
            c.billing.paypal_client_id = Some("id".into());
            c.billing.paypal_webhook_id = Some("WH".into());
        })
        .expect_err("half PayPal");
        assert!(err.to_string().contains("billing.paypal_secret"), "{err}");
    }
}
