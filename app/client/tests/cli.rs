//! The binary's local contract (no portal needed): a plain-http portal off
//! loopback is refused before anything is kept, and commands that need a
//! login or a device say so with exit code 1. (Its run against a real
//! portal and node is `app/tests/tunnel/client.rs`, which also needs this
//! test to exist: it makes `cargo test --workspace` build the binary.)

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

fn client(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_truevault-client"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("truevault-client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

#[test]
fn plain_http_off_loopback_is_refused_and_nothing_is_kept() {
    let dir = std::env::temp_dir().join(format!("tv-client-cli-{}", std::process::id()));
    let out = client(
        &dir,
        &["login", "--portal", "http://vpn.example.com"],
        "tvk_example\n",
    );
    assert_eq!(out.status.code(), Some(1), "a local refusal");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-http"));
    assert!(!dir.join("login.json").exists(), "nothing kept");

    for cmd in ["servers", "status", "down"] {
        let out = client(&dir, &["--json", cmd], "");
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let err: serde_json::Value =
            serde_json::from_slice(&out.stderr).expect("a JSON error on stderr");
        assert_eq!(err["exit"], 1, "{cmd}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
