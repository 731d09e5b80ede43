-- Cameras: the user's camera gateways (a token each, stored hashed) and the
-- cameras they serve. Camera passwords are sealed with the portal's
-- encryption key (XChaCha20-Poly1305), never stored or shown in clear.

CREATE TABLE camera_gateways (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    -- 1 while its tunnel is connected to a portal instance.
    online INTEGER NOT NULL DEFAULT 0,
    agent TEXT,
    revoked_at INTEGER
);
CREATE INDEX camera_gateways_user ON camera_gateways(user_id);

CREATE TABLE cameras (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The gateway that pulls it; a revoked or deleted gateway leaves the
    -- camera in place, unserved.
    gateway_id INTEGER REFERENCES camera_gateways(id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    vendor TEXT NOT NULL DEFAULT 'generic',
    model TEXT,
    ip TEXT NOT NULL,
    mac TEXT,
    rtsp_port INTEGER NOT NULL DEFAULT 554 CHECK (rtsp_port BETWEEN 1 AND 65535),
    http_port INTEGER NOT NULL DEFAULT 80 CHECK (http_port BETWEEN 1 AND 65535),
    main_stream_url TEXT NOT NULL,
    sub_stream_url TEXT,
    snapshot_url TEXT,
    username TEXT,
    password_enc TEXT,
    lan_device_id INTEGER REFERENCES lan_devices(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX cameras_user ON cameras(user_id);
CREATE INDEX cameras_gateway ON cameras(gateway_id);
