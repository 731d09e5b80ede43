//! Pure mesh rules: the forms pages send (one `Deserialize` struct per
//! entity, the server functions' only argument) and their validated forms
//! (`TryFrom`), port lists, and who may do what.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::model::{Access, MeshError, MeshRole, NetworkId, MAX_SHARE_PORTS};

/// The create-network form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkForm {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The server the network lives on; empty: chosen for the owner.
    #[serde(default)]
    pub server_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNetwork {
    pub name: String,
    pub description: String,
    pub server_id: Option<i64>,
}

/// The invite form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InviteForm {
    pub network_id: i64,
    pub email: String,
    /// `member` (default) or `admin`.
    #[serde(default)]
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvite {
    pub network: NetworkId,
    pub email: String,
    pub role: MeshRole,
}

/// The share form: one of the owner's inventory devices or cameras, or an
/// address on one of their home sites.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShareForm {
    pub network_id: i64,
    /// `lan_device:<id>`, `camera:<id>` or `site:<id>` (with `host_ip`).
    pub target: String,
    /// For a site: the host's address on the home LAN.
    #[serde(default)]
    pub host_ip: String,
    /// A name for members to see; empty: the device's own name.
    #[serde(default)]
    pub name: String,
    pub access: String,
    /// For `use`: TCP ports, comma or space separated (`631, 22`).
    #[serde(default)]
    pub ports: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareTarget {
    LanDevice(i64),
    Camera(i64),
    SiteHost { site_id: i64, ip: Ipv4Addr },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShare {
    pub network: NetworkId,
    pub target: ShareTarget,
    pub name: Option<String>,
    pub access: Access,
    /// Sorted, unique; non-empty exactly for `use`.
    pub ports: Vec<u16>,
}

fn text(field: &str, value: &str, max: usize, required: bool) -> Result<String, String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(format!("{field} is required."));
    }
    if v.chars().count() > max {
        return Err(format!("{field} must be at most {max} characters."));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("{field} holds control characters."));
    }
    Ok(v.to_string())
}

fn id(field: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| format!("Choose a {field}."))
}

impl TryFrom<NetworkForm> for NewNetwork {
    type Error = String;

    fn try_from(f: NetworkForm) -> Result<Self, String> {
        let name = text("Name", &f.name, 64, true)?;
        // Descriptions may span lines; other control characters are refused.
        let description = f.description.trim().to_string();
        if description.chars().count() > 500 {
            return Err("Description must be at most 500 characters.".into());
        }
        if description
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err("Description holds control characters.".into());
        }
        let server_id = match f.server_id.trim() {
            "" | "auto" => None,
            s => Some(id("server", s)?),
        };
        Ok(NewNetwork {
            name,
            description,
            server_id,
        })
    }
}

impl TryFrom<InviteForm> for NewInvite {
    type Error = String;

    fn try_from(f: InviteForm) -> Result<Self, String> {
        let email = crate::accounts::model::Email::parse(&f.email)?;
        let role = match f.role.trim() {
            "" | "member" => MeshRole::Member,
            "admin" => MeshRole::Admin,
            // There is one owner, the network's creator.
            _ => return Err("Invite as a member or an admin.".into()),
        };
        Ok(NewInvite {
            network: NetworkId(f.network_id),
            email: email.into(),
            role,
        })
    }
}

/// `631, 22 80` → [22, 80, 631]. Ranges are not accepted: a share names
/// the services it opens.
pub fn parse_ports(s: &str) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for part in s.split([',', ' ', ';']).filter(|p| !p.trim().is_empty()) {
        let p = part
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("\"{}\" is not a TCP port (1 to 65535).", part.trim()))?;
        ports.push(p);
    }
    ports.sort_unstable();
    ports.dedup();
    if ports.len() > MAX_SHARE_PORTS {
        return Err(format!("Share at most {MAX_SHARE_PORTS} ports."));
    }
    Ok(ports)
}

pub fn format_ports(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A LAN address a home site can route to: private IPv4 unicast.
pub fn lan_ipv4(s: &str) -> Result<Ipv4Addr, String> {
    let ip: Ipv4Addr = s
        .trim()
        .parse()
        .map_err(|_| "Enter the device's IPv4 address on your home network.".to_string())?;
    if !ip.is_private() || ip.octets()[3] == 0 || ip.octets()[3] == 255 {
        return Err("A home device's address is a private IPv4 address such as 192.168.1.20 (not a network or broadcast address).".into());
    }
    Ok(ip)
}

impl TryFrom<ShareForm> for NewShare {
    type Error = String;

    fn try_from(f: ShareForm) -> Result<Self, String> {
        let (kind, target_id) = f.target.trim().split_once(':').unwrap_or(("", ""));
        let target = match kind {
            "lan_device" => ShareTarget::LanDevice(id("device", target_id)?),
            "camera" => ShareTarget::Camera(id("camera", target_id)?),
            "site" => ShareTarget::SiteHost {
                site_id: id("home site", target_id)?,
                ip: lan_ipv4(&f.host_ip)?,
            },
            _ => return Err("Choose what to share.".into()),
        };
        let access = Access::parse(f.access.trim()).ok_or("Choose an access level.")?;
        let ports = parse_ports(&f.ports)?;
        let ports = match access {
            Access::Use if ports.is_empty() => {
                return Err("List the TCP ports members may use (for example 631).".into())
            }
            Access::Use => ports,
            // `full` is every port and `view` none: a list would mislead.
            Access::Full | Access::View if !ports.is_empty() => {
                return Err("Ports are listed only for \"use\" access.".into())
            }
            _ => Vec::new(),
        };
        if access == Access::View && matches!(target, ShareTarget::SiteHost { .. }) {
            return Err("View access is for cameras; share an address with use or full.".into());
        }
        let name = text("Name", &f.name, 64, false)?;
        Ok(NewShare {
            network: NetworkId(f.network_id),
            target,
            name: (!name.is_empty()).then_some(name),
            access,
            ports,
        })
    }
}

/// Whether `actor` (with role `actor_role`) may remove `target_role`.
/// Owners remove anyone but themselves; admins remove members only (an
/// admin removing another admin is the owner's call).
pub fn may_remove(actor_role: MeshRole, target_role: MeshRole) -> Result<(), MeshError> {
    match (actor_role, target_role) {
        (_, MeshRole::Owner) => Err(MeshError::OwnerStays),
        (MeshRole::Owner, _) => Ok(()),
        (MeshRole::Admin, MeshRole::Member) => Ok(()),
        _ => Err(MeshError::RoleRequired),
    }
}

/// Inviting: owners invite admins and members, admins invite members.
pub fn may_invite(actor_role: MeshRole, invited: MeshRole) -> Result<(), MeshError> {
    match (actor_role, invited) {
        (MeshRole::Owner, MeshRole::Admin | MeshRole::Member) => Ok(()),
        (MeshRole::Admin, MeshRole::Member) => Ok(()),
        _ => Err(MeshError::RoleRequired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(kind: &str, access: &str, ports: &str) -> ShareForm {
        ShareForm {
            network_id: 1,
            target: format!("{kind}:7"),
            host_ip: "192.168.1.40".into(),
            access: access.into(),
            ports: ports.into(),
            ..Default::default()
        }
    }

    #[test]
    fn ports_parse_sorted_and_bounded() {
        assert_eq!(parse_ports("631, 22 22;80").unwrap(), vec![22, 80, 631]);
        assert_eq!(parse_ports("").unwrap(), Vec::<u16>::new());
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("65536").is_err());
        assert!(parse_ports("80-90").is_err());
        let many = (1..=40)
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_ports(&many).is_err());
        assert_eq!(format_ports(&[22, 631]), "22,631");
    }

    #[test]
    fn share_forms() {
        let s = NewShare::try_from(share("lan_device", "use", "631")).unwrap();
        assert_eq!(s.target, ShareTarget::LanDevice(7));
        assert_eq!((s.access, s.ports), (Access::Use, vec![631]));
        assert!(NewShare::try_from(share("lan_device", "use", "")).is_err());
        assert!(NewShare::try_from(share("lan_device", "full", "22")).is_err());
        assert!(NewShare::try_from(share("camera", "view", "")).is_ok());
        assert!(NewShare::try_from(share("site", "view", "")).is_err());
        assert!(NewShare::try_from(share("site", "full", "")).is_ok());
        assert!(NewShare::try_from(share("printer", "full", "")).is_err());
        assert!(NewShare::try_from(share("lan_device", "admin", "")).is_err());
        let mut f = share("site", "full", "");
        f.host_ip = "8.8.8.8".into();
        assert!(NewShare::try_from(f).is_err());
        let mut f = share("lan_device", "full", "");
        f.target = "lan_device:-3".into();
        assert!(NewShare::try_from(f).is_err());
    }

    #[test]
    fn network_and_invite_forms() {
        let n = NewNetwork::try_from(NetworkForm {
            name: "  Family ".into(),
            description: "Us\nat home".into(),
            server_id: String::new(),
        })
        .unwrap();
        assert_eq!((n.name.as_str(), n.server_id), ("Family", None));
        assert!(NewNetwork::try_from(NetworkForm::default()).is_err());
        assert!(NewNetwork::try_from(NetworkForm {
            name: "x".repeat(65),
            ..Default::default()
        })
        .is_err());
        let i = NewInvite::try_from(InviteForm {
            network_id: 2,
            email: " Bob@Example.COM ".into(),
            role: String::new(),
        })
        .unwrap();
        assert_eq!(
            (i.email.as_str(), i.role),
            ("bob@example.com", MeshRole::Member)
        );
        assert!(NewInvite::try_from(InviteForm {
            network_id: 2,
            email: "bob@example.com".into(),
            role: "owner".into(),
        })
        .is_err());
    }

    #[test]
    fn roles() {
        use MeshRole::*;
        assert!(may_invite(Owner, Admin).is_ok());
        assert!(may_invite(Admin, Member).is_ok());
        assert_eq!(may_invite(Admin, Admin), Err(MeshError::RoleRequired));
        assert_eq!(may_invite(Member, Member), Err(MeshError::RoleRequired));
        assert_eq!(may_remove(Owner, Owner), Err(MeshError::OwnerStays));
        assert_eq!(may_remove(Admin, Owner), Err(MeshError::OwnerStays));
        assert!(may_remove(Owner, Admin).is_ok());
        assert!(may_remove(Admin, Member).is_ok());
        assert_eq!(may_remove(Admin, Admin), Err(MeshError::RoleRequired));
        assert_eq!(may_remove(Member, Member), Err(MeshError::RoleRequired));
    }
}
