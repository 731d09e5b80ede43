//! A LAN made of network namespaces, for the scanner's end-to-end tests.
//!
//! Layout: one namespace holds a bridge (IGMP/MLD snooping off, so
//! multicast reaches every port), each host gets its own namespace joined
//! to the bridge by a veth pair, with the MAC and IP the test asks for.
//! The scanner runs in a namespace of its own. Names carry a per-run prefix;
//! `Drop` stops what we started (by PID) and deletes the namespaces, also
//! when an assertion fails.
//!
//! To extend it (e.g. with the portal for a sync end-to-end test): start the
//! portal with `lab.spawn_in(lab.scanner_ns(), …)` listening on 127.0.0.1
//! (the namespace's own loopback), then
//! `lab.run_scanner(&["sync", "--portal", "http://127.0.0.1:PORT", "--token-file", …], false, limit)`,
//! as `lab_scan.rs` does against `portal_stub.py`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub const NET: &str = "10.77.0";

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `ip …`, failing the test with its stderr when it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Host {
    pub ns: String,
    pub ip: Ipv4Addr,
    pub mac: String,
}

pub struct Lab {
    prefix: String,
    bridge_ns: String,
    scanner_ns: String,
    pub scanner_ip: Ipv4Addr,
    pub hosts: Vec<Host>,
    children: Vec<Child>,
    threads: Vec<(mpsc::Sender<()>, Option<thread::JoinHandle<()>>)>,
    namespaces: Vec<String>,
}

impl Lab {
    /// A bridge and the scanner's namespace (10.77.0.100).
    pub fn new() -> Lab {
        static N: AtomicU32 = AtomicU32::new(0);
        let prefix = format!(
            "tvs{}x{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut lab = Lab {
            bridge_ns: format!("{prefix}-br"),
            scanner_ns: format!("{prefix}-sc"),
            prefix,
            scanner_ip: Ipv4Addr::new(10, 77, 0, 100),
            hosts: Vec::new(),
            children: Vec::new(),
            threads: Vec::new(),
            namespaces: Vec::new(),
        };
        let br = lab.bridge_ns.clone();
        lab.add_ns(&br);
        ip(&[
            "-n",
            &br,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", &br, "link", "set", "br0", "up"]);
        let sc = lab.scanner_ns.clone();
        lab.attach(&sc, "02:00:00:77:00:64", lab.scanner_ip);
        lab
    }

    pub fn scanner_ns(&self) -> &str {
        &self.scanner_ns
    }

    fn add_ns(&mut self, ns: &str) {
        ip(&["netns", "add", ns]);
        self.namespaces.push(ns.to_string());
        ip(&["-n", ns, "link", "set", "lo", "up"]);
    }

    fn attach(&mut self, ns: &str, mac: &str, addr: Ipv4Addr) {
        if !self.namespaces.iter().any(|n| n == ns) {
            self.add_ns(ns);
        }
        let port = format!("p{}", self.namespaces.len());
        let br = self.bridge_ns.clone();
        ip(&[
            "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ]);
        ip(&["-n", &br, "link", "set", &port, "master", "br0", "up"]);
        ip(&["-n", ns, "link", "set", "eth0", "address", mac]);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", ns, "link", "set", "eth0", "up"]);
        // No default route in a lab host: multicast needs a route of its own.
        ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
    }

    /// A host with its own namespace, MAC and address `10.77.0.<last>`.
    pub fn add_host(&mut self, last: u8, mac: &str) -> usize {
        let ns = format!("{}-h{last}", self.prefix);
        let addr = Ipv4Addr::new(10, 77, 0, last);
        self.attach(&ns, mac, addr);
        self.hosts.push(Host {
            ns,
            ip: addr,
            mac: mac.to_string(),
        });
        self.hosts.len() - 1
    }

    /// Waits until every bridge port forwards (no sleep-and-hope).
    pub fn wait_forwarding(&self, deadline: Duration) {
        let until = Instant::now() + deadline;
        loop {
            let out = Command::new("ip")
                .args(["-n", &self.bridge_ns, "-d", "link", "show", "master", "br0"])
                .output()
                .expect("ip link");
            let text = String::from_utf8_lossy(&out.stdout);
            let ports = text.matches("master br0").count();
            let fwd = text.matches("state forwarding").count();
            let up = text.matches("state UP").count();
            if ports == self.namespaces.len() - 1 && fwd == ports && up == ports {
                return;
            }
            assert!(
                Instant::now() < until,
                "bridge ports not forwarding:\n{text}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a process in `ns` and keeps it to stop in `Drop`. If `ready`
    /// is given, waits (with a deadline) for that line on its stdout.
    pub fn spawn_in(&mut self, ns: &str, argv: &[&str], ready: Option<&str>) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn in namespace");
        if let Some(word) = ready {
            let stdout = child.stdout.take().expect("stdout");
            let (tx, rx) = mpsc::channel();
            let word = word.to_string();
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if line.trim() == word {
                        let _ = tx.send(());
                    }
                }
            });
            let got = rx.recv_timeout(Duration::from_secs(20));
            if got.is_err() {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{argv:?} in {ns} never said {}", ready.unwrap_or(""));
            }
        }
        self.children.push(child);
    }

    /// Runs `f` on a thread that has entered `ns` (sockets it opens live
    /// there), keeping it until `Drop` says stop. `f` gets the stop receiver
    /// and reports readiness through the returned channel.
    pub fn thread_in<F>(&mut self, ns: &str, f: F) -> mpsc::Receiver<Result<(), String>>
    where
        F: FnOnce(mpsc::Receiver<()>, mpsc::Sender<Result<(), String>>) + Send + 'static,
    {
        let path = PathBuf::from("/run/netns").join(ns);
        let (stop_tx, stop_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let handle = thread::spawn(move || {
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("open {}: {e}", path.display())));
                    return;
                }
            };
            // SAFETY: a valid namespace fd; setns only affects this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                let _ = ready_tx.send(Err(format!("setns: {}", std::io::Error::last_os_error())));
                return;
            }
            f(stop_rx, ready_tx);
        });
        self.threads.push((stop_tx, Some(handle)));
        ready_rx
    }

    /// The scanner binary, copied where an unprivileged user can run it.
    pub fn scanner_bin() -> &'static Path {
        Path::new(env!("CARGO_BIN_EXE_truevault-scanner"))
    }

    /// The scanner as a command in its namespace; `as_nobody` drops root
    /// (and with it CAP_NET_RAW) first.
    pub fn scanner_command(&self, args: &[&str], as_nobody: bool) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.scanner_ns]);
        if as_nobody {
            let dir = std::env::temp_dir().join(format!("{}-bin", self.prefix));
            std::fs::create_dir_all(&dir).expect("tmp dir");
            let bin = dir.join("truevault-scanner");
            std::fs::copy(Self::scanner_bin(), &bin).expect("copy scanner");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            cmd.args([
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ]);
            cmd.arg(&bin);
        } else {
            cmd.arg(Self::scanner_bin());
        }
        cmd.args(args)
            .env("RUST_LOG", "truevault_scanner=info")
            .env_remove("TRUEVAULT_SCANNER_TOKEN")
            .env_remove("TRUEVAULT_PORTAL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs the scanner with a deadline (killed and the test failed past it).
    pub fn run_scanner(&self, args: &[&str], as_nobody: bool, limit: Duration) -> Output {
        run_with_deadline(self.scanner_command(args, as_nobody), limit)
    }

    /// Forgets what the scanner's kernel learnt (so the fallback must earn it).
    pub fn flush_scanner_neighbours(&self) {
        ip(&["-n", &self.scanner_ns, "neigh", "flush", "all"]);
    }
}

pub fn run_with_deadline(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd.spawn().expect("spawn");
    let until = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > until {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{cmd:?} ran over {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            // Closing stdin asks host.py to leave; kill makes sure.
            drop(c.stdin.take());
            let _ = c.kill();
            let _ = c.wait();
        }
        for (stop, handle) in &mut self.threads {
            let _ = stop.send(());
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("{}-bin", self.prefix)));
    }
}
