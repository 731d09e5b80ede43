//! Mesh types shared by the server and the browser: ids, roles, access
//! levels, what the pages show, and the mesh refusals with their stable
//! codes (the UI and the tests match on `code()`, never on the text).

use serde::{Deserialize, Serialize};

pub use crate::typed::{InviteId, NetworkId, ShareId};

/// Invites expire a week after they are sent.
pub const INVITE_TTL_SECS: i64 = 7 * 86_400;
/// Networks one user may own, whatever the plan (members are what plans sell).
pub const MAX_OWNED_NETWORKS: i64 = 10;
/// TCP ports one `use` share may list.
pub const MAX_SHARE_PORTS: usize = 32;

crate::string_enum! {
    /// A member's role in a network.
    #[derive(PartialOrd, Ord)]
    pub enum MeshRole {
        Owner = "owner",
        Admin = "admin",
        Member = "member",
    }
}

impl MeshRole {
    pub fn label(self) -> &'static str {
        match self {
            MeshRole::Owner => "Owner",
            MeshRole::Admin => "Admin",
            MeshRole::Member => "Member",
        }
    }

    /// Owners and admins invite and remove members.
    pub fn manages_members(self) -> bool {
        matches!(self, MeshRole::Owner | MeshRole::Admin)
    }
}

crate::string_enum! {
    /// What a member may do with a shared device.
    #[derive(PartialOrd, Ord)]
    pub enum Access {
        /// Cameras: live view and snapshots through the portal only; no
        /// network path to the device.
        View = "view",
        /// The listed TCP ports of the device.
        Use = "use",
        /// Every port of the device.
        Full = "full",
    }
}

impl Access {
    pub fn label(self) -> &'static str {
        match self {
            Access::View => "View (cameras, through the portal)",
            Access::Use => "Use (listed TCP ports)",
            Access::Full => "Full (every port)",
        }
    }
}

crate::string_enum! {
    /// What a share points at.
    pub enum ShareKind {
        /// A device the scanner found on the owner's home network.
        LanDevice = "lan_device",
        /// One of the owner's cameras.
        Camera = "camera",
        /// An address typed by hand on one of the owner's home sites.
        SiteHost = "site_host",
    }
}

/// A network in the list of the user's networks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct NetworkSummary {
    pub id: NetworkId,
    pub name: String,
    pub description: String,
    pub owner_email: String,
    pub server_name: String,
    pub my_role: MeshRole,
    pub members: i64,
    pub shares: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub first_name: String,
    pub role: MeshRole,
    pub joined_at: i64,
    /// Devices of this member on the network's server (the ones that mesh).
    pub devices_here: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteState {
    Pending,
    Used,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub id: InviteId,
    pub email: String,
    pub role: MeshRole,
    pub created_at: i64,
    pub expires_at: i64,
    pub state: InviteState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    pub id: ShareId,
    pub kind: ShareKind,
    pub name: String,
    /// The device's LAN address as the owner knows it.
    pub lan_ip: String,
    pub access: Access,
    pub ports: Vec<u16>,
    pub camera_id: Option<i64>,
    pub created_at: i64,
}

/// Something the owner could share (for the share form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shareable {
    pub kind: ShareKind,
    pub id: i64,
    pub name: String,
    pub ip: String,
    pub is_camera: bool,
}

/// The network page in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDetail {
    pub id: NetworkId,
    pub name: String,
    pub description: String,
    pub server_id: crate::typed::ServerId,
    pub server_name: String,
    pub owner_email: String,
    pub my_role: MeshRole,
    /// The signed-in member's devices on the network's server.
    pub my_devices_here: i64,
    /// `None`: unlimited.
    pub member_limit: Option<i64>,
    pub seats_used: i64,
    pub members: Vec<Member>,
    /// Only owners and admins see invites.
    pub invites: Vec<InviteInfo>,
    pub shares: Vec<ShareInfo>,
    /// Only the owner gets the list of what could be shared.
    pub shareable: Vec<Shareable>,
}

/// The networks page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworksPage {
    pub networks: Vec<NetworkSummary>,
    /// Whether the user's plan lets them create a network.
    pub can_create: bool,
    pub member_limit: Option<i64>,
}

/// What the invite link's page shows before anyone accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitePreview {
    pub network_name: String,
    pub invited_by: String,
    pub role: MeshRole,
    pub state: InviteState,
    pub expires_at: i64,
    /// The address the invite was sent to (the one that may accept it).
    pub email: String,
    /// Whether an account with that address exists (sign in) or not (sign up).
    pub account_exists: bool,
    /// `None` when nobody is signed in.
    pub signed_in_as: Option<String>,
    pub already_member: bool,
}

/// Mesh refusals. Each has a stable code the UI and the tests match on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeshError {
    /// The owner's plan has no mesh members (free, personal).
    NotInPlan,
    /// The owner's plan allows this many members (owner included).
    MemberLimit(i64),
    /// The invite code matches no invite.
    InviteInvalid,
    InviteExpired,
    InviteUsed,
    InviteRevoked,
    /// Signed in as someone other than the invited address.
    InviteNotForYou,
    AlreadyMember,
    /// Only the owner (or an admin, for members) may do that.
    RoleRequired,
    /// The owner stays: cannot leave, be removed or be demoted.
    OwnerStays,
    /// A share of something not in the owner's home.
    ShareNotOwned,
    TooManyNetworks,
}

impl MeshError {
    pub fn code(&self) -> &'static str {
        match self {
            MeshError::NotInPlan => "MESH_NOT_IN_PLAN",
            MeshError::MemberLimit(_) => "MESH_MEMBER_LIMIT",
            MeshError::InviteInvalid => "INVITE_INVALID",
            MeshError::InviteExpired => "INVITE_EXPIRED",
            MeshError::InviteUsed => "INVITE_USED",
            MeshError::InviteRevoked => "INVITE_REVOKED",
            MeshError::InviteNotForYou => "INVITE_NOT_FOR_YOU",
            MeshError::AlreadyMember => "MESH_ALREADY_MEMBER",
            MeshError::RoleRequired => "MESH_ROLE_REQUIRED",
            MeshError::OwnerStays => "MESH_OWNER_STAYS",
            MeshError::ShareNotOwned => "SHARE_NOT_OWNED",
            MeshError::TooManyNetworks => "MESH_TOO_MANY_NETWORKS",
        }
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> u16 {
        match self {
            MeshError::NotInPlan | MeshError::RoleRequired | MeshError::InviteNotForYou => 403,
            MeshError::ShareNotOwned | MeshError::InviteInvalid => 404,
            MeshError::InviteExpired | MeshError::InviteRevoked => 410,
            MeshError::MemberLimit(_)
            | MeshError::InviteUsed
            | MeshError::AlreadyMember
            | MeshError::OwnerStays
            | MeshError::TooManyNetworks => 409,
        }
    }

    pub fn message(&self) -> String {
        match self {
            MeshError::NotInPlan => {
                "Your plan does not include mesh networks. The Family and Business plans do.".into()
            }
            MeshError::MemberLimit(n) => format!(
                "This network's plan allows {}, the owner included. Remove a member or pending invite, or upgrade the plan.",
                crate::ui::components::notice::plural(*n, "member", "members")
            ),
            MeshError::InviteInvalid => "This invitation link is not valid.".into(),
            MeshError::InviteExpired => {
                "This invitation has expired. Ask for a new one.".into()
            }
            MeshError::InviteUsed => "This invitation has already been used.".into(),
            MeshError::InviteRevoked => "This invitation was withdrawn.".into(),
            MeshError::InviteNotForYou => "This invitation was sent to a different e-mail address. Sign in with that address to accept it.".into(),
            MeshError::AlreadyMember => "You are already a member of this network.".into(),
            MeshError::RoleRequired => {
                "Only the network's owner or an admin can do that.".into()
            }
            MeshError::OwnerStays => "The owner cannot leave or be removed from their own network; delete the network instead.".into(),
            MeshError::ShareNotOwned => {
                "That device is not in your home network, so you cannot share it.".into()
            }
            MeshError::TooManyNetworks => format!(
                "You already own {MAX_OWNED_NETWORKS} networks; delete one first."
            ),
        }
    }
}

impl std::fmt::Display for MeshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}
