-- Mesh networks: a network lives on one VPN server (members' devices on
-- that server reach each other); members with roles; single-use e-mailed
-- invites (code stored hashed, expiring); home devices the owner shares
-- with an access level.

CREATE TABLE mesh_networks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    server_id INTEGER NOT NULL REFERENCES vpn_servers(id) ON DELETE RESTRICT,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (owner_id, name)
);
CREATE INDEX mesh_networks_server ON mesh_networks(server_id);

CREATE TABLE mesh_members (
    network_id INTEGER NOT NULL REFERENCES mesh_networks(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (network_id, user_id)
);
CREATE INDEX mesh_members_user ON mesh_members(user_id);
-- One owner per network, enforced by the schema.
CREATE UNIQUE INDEX mesh_members_one_owner ON mesh_members(network_id) WHERE role = 'owner';

CREATE TABLE mesh_invites (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    network_id INTEGER NOT NULL REFERENCES mesh_networks(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    code_hash TEXT NOT NULL UNIQUE,
    invited_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    used_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    revoked_at INTEGER
);
CREATE INDEX mesh_invites_network ON mesh_invites(network_id);

CREATE TABLE mesh_shares (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    network_id INTEGER NOT NULL REFERENCES mesh_networks(id) ON DELETE CASCADE,
    -- Whose home the shared device is in (the network's owner).
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('lan_device', 'camera', 'site_host')),
    lan_device_id INTEGER REFERENCES lan_devices(id) ON DELETE CASCADE,
    camera_id INTEGER REFERENCES cameras(id) ON DELETE CASCADE,
    -- A host typed by address on one of the owner's home sites.
    site_id INTEGER REFERENCES home_sites(id) ON DELETE CASCADE,
    host_ip TEXT,
    name TEXT NOT NULL,
    access TEXT NOT NULL CHECK (access IN ('view', 'use', 'full')),
    -- TCP ports for 'use', comma-separated; empty otherwise.
    ports TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    CHECK ((kind = 'lan_device') = (lan_device_id IS NOT NULL)),
    CHECK ((kind = 'camera') = (camera_id IS NOT NULL)),
    CHECK ((kind = 'site_host') = (host_ip IS NOT NULL))
);
CREATE INDEX mesh_shares_network ON mesh_shares(network_id);
CREATE INDEX mesh_shares_camera ON mesh_shares(camera_id);
CREATE INDEX mesh_shares_lan_device ON mesh_shares(lan_device_id);
