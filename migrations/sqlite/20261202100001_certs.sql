-- Personal certificate authorities: one CA per user, made on first use,
-- its private key sealed with the portal's encryption key; the
-- certificates it issued (never their private keys) and its CRL.

CREATE TABLE cert_authorities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    -- Random, public: the CRL's URL (/pki/<slug>.crl) names no user id.
    slug TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    -- PKCS#8 DER of the CA key, sealed (XChaCha20-Poly1305, base64).
    key_sealed TEXT NOT NULL,
    not_after INTEGER NOT NULL,
    -- The current CRL (DER), its number and when it must be re-signed by.
    crl_der BLOB NOT NULL,
    crl_number INTEGER NOT NULL,
    crl_next_update INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE certificates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ca_id INTEGER NOT NULL REFERENCES cert_authorities(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('device', 'region', 'service')),
    key_origin TEXT NOT NULL CHECK (key_origin IN ('csr', 'server')),
    serial TEXT NOT NULL UNIQUE,
    -- DNS names and addresses, one per line, as issued.
    names TEXT NOT NULL DEFAULT '',
    -- The subject public key (DER, base64): renewal certifies the same key.
    spki_b64 TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    revoked_at INTEGER,
    -- The certificate this one renewed (superseded, so revoked).
    renewed_from INTEGER REFERENCES certificates(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX certificates_user ON certificates (user_id, not_after);
CREATE INDEX certificates_revoked ON certificates (ca_id, revoked_at);
-- The CRL marks a revoked certificate that was renewed as superseded.
CREATE INDEX certificates_renewed ON certificates (renewed_from);
