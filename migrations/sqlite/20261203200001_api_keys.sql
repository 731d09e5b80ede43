-- Public API keys: a customer's scripts and the command-line client call
-- /api/v1 with one. Shown once (tvk_…); only the SHA-256 hash is stored.
-- Revocation is a column read on every request, so it holds on every
-- portal instance at once.
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- The first characters of the key, to tell keys apart in the list.
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    -- Scope names joined by '|' (apikeys::model::Scope).
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- Idempotency-Key: the first answer to a POST, replayed for the same key
-- and body (sealed: a device's config holds its preshared key).
CREATE TABLE api_idempotency (
    api_key_id INTEGER NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    -- 0 while the first request is still running.
    status INTEGER NOT NULL,
    response_sealed TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, idem_key)
);
CREATE INDEX api_idempotency_age ON api_idempotency (created_at);

-- What a client measured to each server (truevault-client servers): server
-- selection's last tie-break, per user since latency depends on where the
-- user is.
CREATE TABLE server_latency (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    server_id INTEGER NOT NULL REFERENCES vpn_servers(id) ON DELETE CASCADE,
    latency_ms INTEGER NOT NULL CHECK (latency_ms >= 0),
    measured_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, server_id)
);
