//! The WireGuard interface and the host settings around it, shared by the
//! node agent and the home agent: create it (kernel module, else
//! `wireguard-go`), IP forwarding, routes to networks behind peers, and
//! removal.

use std::time::{Duration, Instant};

use crate::agent::{run_cmd, AgentError};

async fn link_exists(iface: &str) -> bool {
    run_cmd("ip", &["link", "show", "dev", iface]).await.is_ok()
}

/// Makes sure `iface` exists and answers `wg`: an existing interface is
/// used as it is; otherwise the kernel module is tried and then
/// `wireguard-go`, which daemonises and so outlives this process (an agent
/// restart must not take the tunnel down).
pub async fn ensure_interface(iface: &str) -> Result<(), AgentError> {
    if link_exists(iface).await {
        return Ok(());
    }
    if run_cmd("ip", &["link", "add", "dev", iface, "type", "wireguard"])
        .await
        .is_ok()
    {
        tracing::info!(interface = iface, "created a kernel WireGuard interface");
        return Ok(());
    }
    run_cmd("wireguard-go", &[iface])
        .await
        .map_err(|e| AgentError::Command {
            cmd: "wireguard-go".into(),
            detail: format!(
                "no kernel WireGuard module and wireguard-go failed (install wireguard-go): {e}"
            ),
        })?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while run_cmd("wg", &["show", iface]).await.is_err() {
        if Instant::now() > deadline {
            return Err(AgentError::Command {
                cmd: "wireguard-go".into(),
                detail: format!("{iface} did not come up within 10 s"),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::info!(interface = iface, "created a wireguard-go interface");
    Ok(())
}

/// IPv4 and IPv6 forwarding (in this network namespace).
pub fn enable_forwarding() -> Result<(), AgentError> {
    for path in [
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/net/ipv6/conf/all/forwarding",
    ] {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current.trim() == "1" {
            continue;
        }
        std::fs::write(path, "1").map_err(|e| AgentError::Command {
            cmd: format!("write {path}"),
            detail: e.to_string(),
        })?;
    }
    Ok(())
}

/// Makes the routes into `iface` exactly `networks` (plus the kernel's own
/// route for the interface address), replacing in place so nothing that
/// stays is ever missing.
pub async fn sync_routes(iface: &str, networks: &[String]) -> Result<(), AgentError> {
    for family in ["-4", "-6"] {
        let current = run_cmd("ip", &[family, "-o", "route", "show", "dev", iface])
            .await
            .unwrap_or_default();
        for line in current.lines() {
            if line.contains("proto kernel") {
                continue;
            }
            let Some(dst) = line.split_whitespace().next() else {
                continue;
            };
            if !networks.iter().any(|n| n == dst) {
                let _ = run_cmd("ip", &[family, "route", "del", dst, "dev", iface]).await;
            }
        }
    }
    for net in networks {
        run_cmd("ip", &["route", "replace", net, "dev", iface]).await?;
    }
    Ok(())
}

/// Removes an nftables table (absent is fine) and the interface.
pub async fn uninstall(family_table: &str, iface: &str) -> Result<(), AgentError> {
    let script = format!("table {family_table} {{}}\ndelete table {family_table}\n");
    let dir = std::env::temp_dir().join(format!("truevault-uninstall-{}.nft", std::process::id()));
    crate::keys::write_private(&dir, script.as_bytes()).map_err(|e| AgentError::State {
        path: dir.display().to_string(),
        detail: e.to_string(),
    })?;
    let res = run_cmd("nft", &["-f", &dir.display().to_string()]).await;
    let _ = std::fs::remove_file(&dir);
    res?;
    if link_exists(iface).await {
        run_cmd("ip", &["link", "del", "dev", iface]).await?;
    }
    tracing::info!(table = family_table, interface = iface, "removed");
    Ok(())
}
