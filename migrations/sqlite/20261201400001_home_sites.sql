-- Home sites (subnet routers): a customer's home LAN reached through a
-- WireGuard peer (the home agent) that maps the site's range 1:1 onto the
-- real LAN. Overlapping LANs across customers are normal, so every site gets
-- a unique range (slot) from the portal's site pool; the slot is what
-- devices address. Site tokens are stored hashed.

CREATE TABLE home_sites (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- The real LAN as the customer entered it, canonical (e.g. 192.168.1.0/24).
    lan_cidr TEXT NOT NULL,
    -- Index of the site's range in the site pool (sites::model::SiteRange).
    range_slot INTEGER NOT NULL UNIQUE CHECK (range_slot >= 0),
    -- The server the site's peer lives on and its tunnel address there
    -- (allocated from the server's pool like a device's).
    server_id INTEGER NOT NULL REFERENCES vpn_servers(id) ON DELETE RESTRICT,
    v4_index INTEGER NOT NULL,
    preshared_key_enc TEXT NOT NULL,
    -- Set when the home agent first connects (its private key stays home).
    public_key TEXT UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    last_handshake_at INTEGER,
    rx_bytes INTEGER NOT NULL DEFAULT 0,
    tx_bytes INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (user_id, name),
    UNIQUE (server_id, v4_index)
);
CREATE INDEX home_sites_user ON home_sites(user_id);
CREATE INDEX home_sites_server ON home_sites(server_id);

-- Full tunnel (everything through the VPN) or split tunnel (only the
-- user's site and mesh ranges plus the tunnel DNS).
ALTER TABLE devices ADD COLUMN tunnel_mode TEXT NOT NULL DEFAULT 'full' CHECK (tunnel_mode IN ('full', 'split'));
