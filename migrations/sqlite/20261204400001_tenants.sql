-- Tenants: businesses that put the VPN into their own apps for their own
-- users (tenants/). A tenant user is a `users` row with `tenant_id` set (so
-- devices, address pools, node configs, the usage ledger and the service
-- rule apply unchanged), whose identity — an e-mail unique only inside its
-- tenant, and a password — lives in `tenant_users`. Its `users.email` is a
-- synthetic, undeliverable `…@tenants.invalid` and its `password_hash` is
-- not a PHC string, so it can never sign in as a consumer; every consumer
-- query that finds users by e-mail or lists them adds `tenant_id IS NULL`.

-- What a plan gives a tenant (read by `entitlements::tenant_limits` only);
-- -1 is unlimited, 0 none. Only the business plan hosts tenants.
ALTER TABLE plans ADD COLUMN tenant_max_users INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN tenant_max_devices INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN tenant_bandwidth_gb INTEGER NOT NULL DEFAULT 0;
UPDATE plans SET tenant_max_users = 1000, tenant_max_devices = 3000, tenant_bandwidth_gb = 10000
 WHERE slug = 'business';

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    -- The portal account that signed the business up (NULL: made by an operator).
    owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    -- Branding of the pages its users see.
    brand_name TEXT NOT NULL DEFAULT '',
    logo_url TEXT,
    theme_id INTEGER REFERENCES themes(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX tenants_owner ON tenants (owner_user_id);

ALTER TABLE users ADD COLUMN tenant_id INTEGER REFERENCES tenants(id) ON DELETE CASCADE;
CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE tenant_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, email)
);

-- Key id + secret; only the secret's SHA-256 is kept (it is also the HMAC
-- signing key, see tenants::model::signing_string).
CREATE TABLE tenant_credentials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX tenant_credentials_tenant ON tenant_credentials (tenant_id);

-- Calls per credential and day (the monthly count is their sum).
CREATE TABLE tenant_api_calls (
    credential_id INTEGER NOT NULL REFERENCES tenant_credentials(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    day INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (credential_id, day)
);
CREATE INDEX tenant_api_calls_tenant ON tenant_api_calls (tenant_id, day);

-- Signatures seen in the last minutes: a signed request is accepted once.
CREATE TABLE tenant_signatures (
    credential_id INTEGER NOT NULL REFERENCES tenant_credentials(id) ON DELETE CASCADE,
    signature TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (credential_id, signature)
);
CREATE INDEX tenant_signatures_age ON tenant_signatures (credential_id, seen_at);

-- A sign-in starts a family; each refresh rotates its refresh token. A
-- rotated refresh token presented again revokes the whole family.
CREATE TABLE tenant_token_families (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_user_id INTEGER NOT NULL REFERENCES tenant_users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX tenant_token_families_user ON tenant_token_families (tenant_user_id);

CREATE TABLE tenant_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    family_id INTEGER NOT NULL REFERENCES tenant_token_families(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- A refresh token's rotation.
    used_at INTEGER
);
CREATE INDEX tenant_tokens_family ON tenant_tokens (family_id);
