-- VPN servers (nodes), devices (peers), address allocation, node sync
-- state and usage. Invariants live here: one device per (server, address),
-- public keys unique, node tokens stored hashed.

CREATE TABLE vpn_servers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    region TEXT NOT NULL,
    country TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    endpoint_host TEXT NOT NULL,
    endpoint_port INTEGER NOT NULL CHECK (endpoint_port BETWEEN 1 AND 65535),
    server_type TEXT NOT NULL DEFAULT 'shared' CHECK (server_type IN ('shared', 'premium', 'vip_dedicated')),
    vip_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'maintenance', 'offline', 'draining')),
    ipv4_pool TEXT NOT NULL,
    ipv6_pool TEXT,
    dns TEXT NOT NULL DEFAULT '',
    public_key TEXT,
    node_token_hash TEXT UNIQUE,
    node_enrolled_at INTEGER,
    last_report_at INTEGER,
    latency_ms INTEGER,
    -- Bumped on every change of the desired peer set; nodes long-poll on it.
    peers_version INTEGER NOT NULL DEFAULT 1,
    applied_version INTEGER NOT NULL DEFAULT 0,
    next_v4_index INTEGER NOT NULL DEFAULT 2,
    next_v6_index INTEGER NOT NULL DEFAULT 2,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    server_id INTEGER NOT NULL REFERENCES vpn_servers(id) ON DELETE RESTRICT,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    preshared_key_enc TEXT NOT NULL,
    v4_index INTEGER NOT NULL,
    v6_index INTEGER,
    -- Set for a regional identity: one stable peer per user per region.
    identity_region TEXT,
    last_handshake_at INTEGER,
    rx_bytes INTEGER NOT NULL DEFAULT 0,
    tx_bytes INTEGER NOT NULL DEFAULT 0,
    endpoint TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (server_id, v4_index),
    UNIQUE (server_id, v6_index)
);
CREATE INDEX devices_user ON devices(user_id);
CREATE UNIQUE INDEX devices_identity ON devices(user_id, identity_region) WHERE identity_region IS NOT NULL;

-- Addresses released by removed devices, reused before the counter grows.
CREATE TABLE ip_free (
    server_id INTEGER NOT NULL REFERENCES vpn_servers(id) ON DELETE CASCADE,
    family INTEGER NOT NULL CHECK (family IN (4, 6)),
    idx INTEGER NOT NULL,
    PRIMARY KEY (server_id, family, idx)
);

-- Per device per UTC day: bytes and connected time, from node reports.
CREATE TABLE device_usage (
    device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    day INTEGER NOT NULL,
    rx_bytes INTEGER NOT NULL DEFAULT 0,
    tx_bytes INTEGER NOT NULL DEFAULT 0,
    connected_seconds INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, day)
);
