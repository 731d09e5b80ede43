-- Home network inventory: per-user scanner tokens (stored hashed), the
-- devices scanners report (one row per user and MAC), and their history.

CREATE TABLE scanner_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    last_network TEXT,
    revoked_at INTEGER
);
CREATE INDEX scanner_tokens_user ON scanner_tokens(user_id);

CREATE TABLE lan_devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mac TEXT NOT NULL,
    ip TEXT NOT NULL,
    -- A name the user gave; shown instead of the hostname.
    label TEXT,
    hostname TEXT,
    vendor TEXT,
    model TEXT,
    randomized_mac INTEGER NOT NULL DEFAULT 0,
    device_type TEXT NOT NULL DEFAULT 'unknown' CHECK (device_type IN
        ('camera', 'printer', 'tv', 'phone', 'computer', 'router', 'speaker', 'nas', 'iot', 'unknown')),
    is_camera INTEGER NOT NULL DEFAULT 0,
    stream_url TEXT,
    -- JSON arrays as the scanner sent them (validated and bounded).
    services TEXT NOT NULL DEFAULT '[]',
    open_ports TEXT NOT NULL DEFAULT '[]',
    online INTEGER NOT NULL DEFAULT 1,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    UNIQUE (user_id, mac)
);

CREATE TABLE lan_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id INTEGER NOT NULL REFERENCES lan_devices(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('new', 'online', 'offline', 'ip_changed')),
    detail TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    -- New-device alerts stay on the dashboard until the user dismisses them.
    acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX lan_events_device ON lan_events(device_id, id);
CREATE INDEX lan_events_user ON lan_events(user_id, id);
