//! An ONVIF camera for the events and PTZ tests: oxvif's mock device
//! (`oxvif::mock::MockServer`: capabilities, profiles, the PTZ service with
//! its presets, snapshots) behind a small recording proxy of our own. The
//! proxy writes down every SOAP request it passes on (so a test can see
//! the ContinuousMove velocity and the Stop that reached the PTZ service)
//! and answers `PullMessages` itself from a queue the test fills, holding
//! the request like a camera does — the mock makes up an event on every
//! pull, which a test cannot steer. Everything else is the mock's answer,
//! with its address rewritten to the proxy's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use tokio::sync::Notify;

/// One SOAP request as it reached the camera.
#[derive(Debug, Clone)]
pub struct SoapRequest {
    pub action: String,
    pub body: String,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<SoapRequest>>,
    events: Mutex<VecDeque<String>>,
    queued: Notify,
    mock_base: String,
    own_base: Mutex<String>,
    /// `/snapshot.bmp` serves the mock's picture scaled down to fit a
    /// thumbnail (true) or as it is, 640×360 uncompressed (false).
    small_snapshot: std::sync::atomic::AtomicBool,
}

pub struct OnvifDevice {
    /// Kept alive for the proxy's lifetime.
    _mock: oxvif::mock::MockServer,
    pub port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OnvifDevice {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OnvifDevice {
    pub async fn start() -> Self {
        let mock = oxvif::mock::MockServer::start()
            .await
            .expect("oxvif mock device");
        let shared = Arc::new(Shared {
            mock_base: mock.base_url().trim_end_matches('/').to_string(),
            ..Default::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        *shared.own_base.lock().expect("lock") = format!("http://127.0.0.1:{port}");
        let app = Router::new().fallback(proxy).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            _mock: mock,
            port,
            shared,
            task,
        }
    }

    /// The camera's snapshot: the mock's generated picture, through us.
    pub fn snapshot_url(&self) -> String {
        format!("http://127.0.0.1:{}/snapshot.bmp", self.port)
    }

    pub fn small_snapshots(&self, small: bool) {
        self.shared
            .small_snapshot
            .store(small, std::sync::atomic::Ordering::SeqCst);
    }

    /// Queues one notification for the next `PullMessages`.
    pub fn push_event(&self, topic: &str, data_name: &str, data_value: &str) {
        let xml = format!(
            r#"<wsnt:NotificationMessage>
            <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{topic}</wsnt:Topic>
            <wsnt:Message>
              <tt:Message UtcTime="2026-12-01T21:00:00Z" PropertyOperation="Changed">
                <tt:Source><tt:SimpleItem Name="VideoSourceToken" Value="VS_1"/></tt:Source>
                <tt:Data><tt:SimpleItem Name="{data_name}" Value="{data_value}"/></tt:Data>
              </tt:Message>
            </wsnt:Message>
          </wsnt:NotificationMessage>"#
        );
        self.shared.events.lock().expect("lock").push_back(xml);
        self.shared.queued.notify_waiters();
    }

    /// Every request so far whose action ends with `suffix`.
    pub fn requests(&self, suffix: &str) -> Vec<SoapRequest> {
        self.shared
            .requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.action.ends_with(suffix))
            .cloned()
            .collect()
    }
}

fn action_of(headers: &HeaderMap) -> String {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    ct.split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

/// `PT5S` → 5 s (the only form oxvif's callers send here), capped.
fn pull_timeout(body: &str) -> Duration {
    let secs = body
        .split("Timeout>PT")
        .nth(1)
        .and_then(|rest| rest.split('S').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_secs(secs.min(10))
}

async fn proxy(
    State(shared): State<Arc<Shared>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    let action = action_of(&headers);
    shared.requests.lock().expect("lock").push(SoapRequest {
        action: action.clone(),
        body: text.clone(),
    });
    if action.ends_with("PullMessagesRequest") {
        return pull(&shared, pull_timeout(&text)).await;
    }
    let path = match uri.path() {
        "/snapshot.bmp" => "/mock/snapshot.jpg",
        _ => uri.path_and_query().map_or("/", |p| p.as_str()),
    };
    let url = format!("{}{path}", shared.mock_base);
    let client = reqwest::Client::new();
    let mut req = client.request(
        reqwest::Method::from_bytes(method.as_str().as_bytes()).expect("method"),
        url,
    );
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        req = req.header("content-type", ct.as_bytes());
    }
    let res = match req.body(body.to_vec()).send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(res.status().as_u16()).expect("status");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/soap+xml")
        .to_string();
    if uri.path() == "/snapshot.bmp" {
        let bmp = res.bytes().await.unwrap_or_default();
        let small = shared
            .small_snapshot
            .load(std::sync::atomic::Ordering::SeqCst);
        let body = if small {
            shrink_bmp(&bmp, 4)
        } else {
            bmp.to_vec()
        };
        return (status, [(header::CONTENT_TYPE, ct)], body).into_response();
    }
    let answer = res.text().await.unwrap_or_default();
    let own = shared.own_base.lock().expect("lock").clone();
    let answer = answer.replace(&shared.mock_base, &own);
    (status, [(header::CONTENT_TYPE, ct)], answer).into_response()
}

/// Answers with whatever is queued, waiting up to `timeout` for something.
async fn pull(shared: &Shared, timeout: Duration) -> Response {
    let deadline = tokio::time::Instant::now() + timeout;
    let taken = loop {
        let notified = shared.queued.notified();
        let taken: Vec<String> = shared.events.lock().expect("lock").drain(..).collect();
        if !taken.is_empty() || tokio::time::Instant::now() >= deadline {
            break taken;
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    };
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics"><s:Body><tev:PullMessagesResponse><tev:CurrentTime>2026-12-01T21:00:00Z</tev:CurrentTime><tev:TerminationTime>2026-12-01T21:05:00Z</tev:TerminationTime>{}</tev:PullMessagesResponse></s:Body></s:Envelope>"#,
        taken.concat()
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        xml,
    )
        .into_response()
}

/// Every `step`-th pixel of every `step`-th row of a 24-bit BMP (the
/// mock's format: 54-byte header, rows bottom-up, padded to 4 bytes).
fn shrink_bmp(bmp: &[u8], step: usize) -> Vec<u8> {
    let le32 = |at: usize| u32::from_le_bytes([bmp[at], bmp[at + 1], bmp[at + 2], bmp[at + 3]]);
    let (w, h) = (le32(18) as usize, le32(22) as usize);
    let row = (w * 3 + 3) & !3;
    let (nw, nh) = (w / step, h / step);
    let nrow = (nw * 3 + 3) & !3;
    let mut out = bmp[..54].to_vec();
    out[2..6].copy_from_slice(&((54 + nrow * nh) as u32).to_le_bytes());
    out[18..22].copy_from_slice(&(nw as u32).to_le_bytes());
    out[22..26].copy_from_slice(&(nh as u32).to_le_bytes());
    out[34..38].copy_from_slice(&((nrow * nh) as u32).to_le_bytes());
    for y in 0..nh {
        let src = 54 + y * step * row;
        for x in 0..nw {
            let p = src + x * step * 3;
            out.extend_from_slice(&bmp[p..p + 3]);
        }
        out.resize(out.len() + (nrow - nw * 3), 0);
    }
    out
}
