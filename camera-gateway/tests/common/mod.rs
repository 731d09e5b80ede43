//! Test helpers: a real RTSP server (GStreamer, see rtsp_server.py), free
//! ports, and waiting on conditions with deadlines.
#![allow(dead_code)]

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use truevault_gateway::ingest::{IngestEvent, PullTag};

pub const PYTHON: &str = "/usr/bin/python3";

/// GStreamer's RTSP server on 127.0.0.1, stopped (by PID) on drop.
pub struct RtspServer {
    pub port: u16,
    child: Child,
    workdir: std::path::PathBuf,
    pub clients: Arc<AtomicUsize>,
}

impl RtspServer {
    pub async fn start(auth: Option<(&str, &str)>) -> Self {
        Self::start_on(0, auth).await
    }

    pub async fn start_on(port: u16, auth: Option<(&str, &str)>) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rtsp_server.py");
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let workdir = std::env::temp_dir().join(format!(
            "tvgw-rtsp-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let mut cmd = Command::new(PYTHON);
        cmd.arg(script).arg("--port").arg(port.to_string());
        cmd.arg("--workdir").arg(&workdir);
        if let Some((u, p)) = auth {
            cmd.args(["--user", u, "--password", p]);
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("starting {PYTHON} {script}: {e} (run app/scripts/setup.sh --test)")
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(p) = line.strip_prefix("READY ") {
                    return p.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await;
        let port = match ready {
            Ok(Some(p)) => p,
            other => panic!(
                "RTSP server did not come up ({other:?}); is GStreamer's RTSP server installed? \
                 (app/scripts/setup.sh --test)"
            ),
        };
        let clients = Arc::new(AtomicUsize::new(0));
        let c = clients.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("CLIENT") {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Self {
            port,
            child,
            workdir,
            clients,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("rtsp://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the server (SIGKILL to the PID we started) and waits for it.
    pub async fn stop(mut self) -> u16 {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        self.port
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        // Only the process this guard started, by its PID.
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.workdir);
    }
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Waits for the next event matching `pred`, failing after `secs`.
pub async fn next_matching<F>(
    rx: &mut mpsc::Receiver<(PullTag, IngestEvent)>,
    secs: u64,
    what: &str,
    mut pred: F,
) -> (PullTag, IngestEvent)
where
    F: FnMut(&PullTag, &IngestEvent) -> bool,
{
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match rx.recv().await {
                Some((t, e)) if pred(&t, &e) => return (t, e),
                Some(_) => continue,
                None => panic!("event channel closed while waiting for {what}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out after {secs}s waiting for {what}"))
}

/// Checks an H.264 sample in 4-byte length-prefixed form walks exactly to its end.
pub fn check_length_prefixed(sample: &[u8]) -> usize {
    let mut at = 0;
    let mut nals = 0;
    while at < sample.len() {
        assert!(at + 4 <= sample.len(), "truncated NAL length");
        let len = u32::from_be_bytes(sample[at..at + 4].try_into().unwrap()) as usize;
        assert!(
            len > 0 && at + 4 + len <= sample.len(),
            "bad NAL length {len}"
        );
        at += 4 + len;
        nals += 1;
    }
    nals
}
