//! Server selection, as the product brief orders it: only active servers;
//! a VIP's dedicated server first and visible only to that VIP; then the
//! preferred region; then the lowest load (peers / capacity); then the
//! lowest latency the client reported.

use serde::{Deserialize, Serialize};

use super::model::{ServerId, ServerStatus, ServerType};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: ServerId,
    pub name: String,
    pub region: String,
    pub server_type: ServerType,
    pub vip_user_id: Option<i64>,
    pub status: ServerStatus,
    pub healthy: bool,
    pub peers: i64,
    pub capacity: i64,
    pub latency_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub server_id: ServerId,
    pub reason: String,
}

impl Candidate {
    pub fn load(&self) -> f64 {
        if self.capacity <= 0 {
            f64::INFINITY
        } else {
            self.peers as f64 / self.capacity as f64
        }
    }

    pub fn visible_to(&self, user_id: i64) -> bool {
        self.server_type != ServerType::VipDedicated || self.vip_user_id == Some(user_id)
    }
}

pub fn choose(
    candidates: &[Candidate],
    user_id: i64,
    preferred_region: Option<&str>,
) -> Option<Choice> {
    let usable: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| {
            c.status == ServerStatus::Active
                && c.healthy
                && c.visible_to(user_id)
                && c.peers < c.capacity
        })
        .collect();
    if let Some(dedicated) = usable
        .iter()
        .find(|c| c.server_type == ServerType::VipDedicated)
    {
        return Some(Choice {
            server_id: dedicated.id,
            reason: format!("{}: your dedicated server", dedicated.name),
        });
    }
    let in_region: Vec<&&Candidate> = match preferred_region {
        Some(r) => usable
            .iter()
            .filter(|c| c.region.eq_ignore_ascii_case(r))
            .collect(),
        None => Vec::new(),
    };
    let (pool, region_note) = if in_region.is_empty() {
        let note = preferred_region
            .map(|r| format!(" (no available server in {r})"))
            .unwrap_or_default();
        (usable.iter().collect::<Vec<_>>(), note)
    } else {
        (
            in_region,
            format!(
                " in your preferred region {}",
                preferred_region.unwrap_or_default()
            ),
        )
    };
    let best = pool.into_iter().min_by(|a, b| {
        a.load()
            .partial_cmp(&b.load())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(
                a.latency_ms
                    .unwrap_or(i64::MAX)
                    .cmp(&b.latency_ms.unwrap_or(i64::MAX)),
            )
            .then(a.id.cmp(&b.id))
    })?;
    let latency = best
        .latency_ms
        .map(|l| format!(", {l} ms"))
        .unwrap_or_default();
    Some(Choice {
        server_id: best.id,
        reason: format!(
            "{}: lowest load{region_note} ({} of {} peers{latency})",
            best.name, best.peers, best.capacity
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: i64, region: &str, peers: i64, latency: Option<i64>) -> Candidate {
        Candidate {
            id: ServerId(id),
            name: format!("s{id}"),
            region: region.into(),
            server_type: ServerType::Shared,
            vip_user_id: None,
            status: ServerStatus::Active,
            healthy: true,
            peers,
            capacity: 100,
            latency_ms: latency,
        }
    }

    #[test]
    fn order_of_rules() {
        let mut servers = vec![
            c(1, "eu", 50, None),
            c(2, "us", 10, None),
            c(3, "eu", 20, Some(80)),
            c(4, "eu", 20, Some(30)),
        ];
        // Lowest load overall.
        assert_eq!(choose(&servers, 7, None).unwrap().server_id, 2);
        // Preferred region, then load, then latency.
        let pick = choose(&servers, 7, Some("EU")).unwrap();
        assert_eq!(pick.server_id, 4);
        assert!(pick.reason.contains("preferred region"));
        // A region with nothing available falls back to all.
        assert_eq!(choose(&servers, 7, Some("ap")).unwrap().server_id, 2);
        // Inactive, unhealthy and full servers are never chosen.
        servers[1].status = ServerStatus::Maintenance;
        servers[3].healthy = false;
        servers[2].peers = 100;
        assert_eq!(choose(&servers, 7, None).unwrap().server_id, 1);
    }

    #[test]
    fn dedicated_servers_are_first_and_private() {
        let mut d = c(9, "us", 99, None);
        d.server_type = ServerType::VipDedicated;
        d.vip_user_id = Some(42);
        let servers = vec![c(1, "eu", 0, None), d];
        assert_eq!(choose(&servers, 42, Some("eu")).unwrap().server_id, 9);
        assert_eq!(choose(&servers, 7, None).unwrap().server_id, 1);
        assert!(!servers[1].visible_to(7));
    }

    #[test]
    fn nothing_available() {
        assert_eq!(choose(&[], 1, None), None);
    }
}
