//! Prometheus metrics: requests by route and status, and a latency
//! histogram per route, rendered in the text exposition format.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::state::AppState;

const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Inner>>,
}

/// Series at most: routes are templates and methods a fixed set, so this is
/// a guard against a bug, not a limit real traffic reaches.
const MAX_SERIES: usize = 4096;

/// A label for a request method: the standard ones by name, anything a
/// client invents as `OTHER` (so made-up methods cannot grow the map).
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

impl Metrics {
    pub fn observe(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        let Ok(mut m) = self.inner.lock() else { return };
        let full = m.requests.len() >= MAX_SERIES || m.latency.len() >= MAX_SERIES;
        let route = if full && !m.latency.contains_key(route) {
            "other"
        } else {
            route
        };
        let key = (method.to_string(), route.to_string(), status);
        if full && !m.requests.contains_key(&key) {
            return;
        }
        *m.requests.entry(key).or_default() += 1;
        let h = m.latency.entry(route.to_string()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    pub fn render(&self, extra: &str) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else { return out };
        out.push_str(
            "# HELP truevault_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE truevault_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "truevault_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP truevault_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE truevault_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let r = escape(route);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "truevault_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "truevault_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "truevault_http_request_duration_seconds_sum{{route=\"{r}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "truevault_http_request_duration_seconds_count{{route=\"{r}\"}} {}",
                h.count
            );
        }
        out.push_str(extra);
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    // The matched route template keeps label cardinality bounded.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| {
            if req.uri().path().starts_with("/pkg/") {
                "/pkg/*".into()
            } else {
                "other".into()
            }
        });
    let res = next.run(req).await;
    state.metrics.observe(
        method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

/// `/metrics` on the main listener: with `metrics.token`, for whoever
/// presents it; without, only for a loopback peer that is not a proxy
/// relaying someone else; never when a separate `metrics.listen` is set.
pub async fn guarded(State(state): State<AppState>, req: Request) -> Response {
    let cfg = &state.config.metrics;
    let allowed = if cfg.listen.is_some() {
        false
    } else if let Some(token) = &cfg.token {
        crate::api::bearer(req.headers()).is_some_and(|t| {
            use subtle::ConstantTimeEq;
            bool::from(t.as_bytes().ct_eq(token.expose().as_bytes()))
        })
    } else {
        let loopback = req
            .extensions()
            .get::<super::client::ClientIp>()
            .is_some_and(|c| c.0.is_loopback());
        let relayed = req.extensions().get::<super::client::Relayed>().is_some();
        loopback && !relayed
    };
    if !allowed {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    handler(State(state)).await
}

pub async fn handler(State(state): State<AppState>) -> Response {
    let up = if state.db.ping().await.is_ok() { 1 } else { 0 };
    let extra = format!(
        "# HELP truevault_database_up Whether the database answers.\n# TYPE truevault_database_up gauge\ntruevault_database_up {up}\n\
         # HELP truevault_held_requests Requests parked until something changes (node long-polls).\n# TYPE truevault_held_requests gauge\ntruevault_held_requests {}\n",
        state.stopping.held()
    );
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&extra),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.observe("GET", "/health", 200, 0.002);
        let invented = axum::http::Method::from_bytes(b"FOOBAR").expect("method");
        assert_eq!(method_label(&invented), "OTHER");
        for i in 0..(MAX_SERIES + 10) {
            m.observe("GET", &format!("/r{i}"), 200, 0.001);
        }
        let text = m.render("");
        assert!(
            text.lines()
                .filter(|l| l.starts_with("truevault_http_requests_total"))
                .count()
                <= MAX_SERIES
        );
        m.observe("GET", "/health", 200, 0.2);
        let text = m.render("");
        assert!(text.contains(
            "truevault_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "truevault_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.0025\"} 1"
        ));
        assert!(text.contains("truevault_http_request_duration_seconds_count{route=\"/health\"} 2"));
    }
}
