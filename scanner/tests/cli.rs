//! Exit codes of the binary that need no network.

use std::process::Command;

fn scanner() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_truevault-scanner"));
    c.env_remove("TRUEVAULT_SCANNER_TOKEN")
        .env_remove("TRUEVAULT_PORTAL")
        .env_remove("TRUEVAULT_SCANNER_CONFIG");
    c
}

#[test]
fn missing_interface_exits_7() {
    let out = scanner()
        .args(["scan", "--no-progress", "--iface", "tvs-none0"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("tvs-none0"));
}

#[test]
fn usage_errors_exit_2() {
    let out = scanner().args(["scan", "--bogus"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = scanner()
        .args(["sync", "--portal", "https://portal.invalid"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "no token");
    assert!(String::from_utf8_lossy(&out.stderr).contains("TRUEVAULT_SCANNER_TOKEN"));
    let out = scanner()
        .args([
            "sync",
            "--portal",
            "http://portal.invalid",
            "--token",
            "tvs_x",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "plain http refused");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("tvs_x"),
        "token never printed"
    );
    let out = scanner()
        .args(["scan", "--camera-user", "admin"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "user without password");
}

#[test]
fn token_from_config_file_is_used() {
    let dir = std::env::temp_dir().join(format!("tvs-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("scanner.env");
    std::fs::write(
        &cfg,
        "# test\nTRUEVAULT_PORTAL=\"http://portal.invalid\"\nTRUEVAULT_SCANNER_TOKEN=tvs_fromfile\n",
    )
    .expect("write");
    // Reaching the plain-http refusal proves both values were read.
    let out = scanner()
        .args(["sync", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("plain http"), "{err}");
    assert!(!err.contains("tvs_fromfile"));
}
