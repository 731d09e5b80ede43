//! The agents refuse unsafe or incomplete start-ups before touching
//! anything: a plain-http portal off loopback (tokens and keys would cross
//! the network in clear) unless `--allow-http`, and a home agent without a
//! site token. (These runs also build the binaries the namespace labs use.)

use std::process::Command;

fn state_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tv-node-cli-{name}-{}", std::process::id()))
}

#[test]
fn a_node_refuses_a_plain_http_portal_off_loopback() {
    let dir = state_dir("node");
    let out = Command::new(env!("CARGO_BIN_EXE_truevault-node"))
        .args(["--portal", "http://192.0.2.1:3000", "--interface", "tvcli0"])
        .arg("--state-dir")
        .arg(&dir)
        .env("TRUEVAULT_NODE_TOKEN", "x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!dir.exists(), "refused before enrolling or writing state");
}

#[test]
fn a_home_agent_needs_a_site_token_and_refuses_plain_http() {
    let dir = state_dir("home");
    let out = Command::new(env!("CARGO_BIN_EXE_truevault-home"))
        .args(["--portal", "https://vpn.example.com"])
        .arg("--state-dir")
        .arg(&dir)
        .env_remove("TRUEVAULT_SITE_TOKEN")
        .env_remove("TRUEVAULT_SITE_TOKEN_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let token = dir.with_extension("token");
    std::fs::write(&token, "a-site-token").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_truevault-home"))
        .args(["--portal", "http://192.0.2.1:3000", "--token-file"])
        .arg(&token)
        .arg("--state-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&token);
    assert!(!out.status.success());
    assert!(!dir.exists(), "refused before making a key");
}
