//! Secrets: a string wrapper that never prints, and the keys generated and
//! persisted on first run (never hard-coded).

use std::{fmt, path::Path};

use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::{
    aead::{Aead, KeyInit},
    XChaCha20Poly1305, XNonce,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// A secret from configuration. `Debug`/`Display` show `***` so it cannot
/// leak into logs by accident.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} exists but cannot be read as keys ({reason}). Refusing to start: new keys \
         would make every sealed secret (TOTP seeds, camera passwords, preshared keys) \
         unreadable. Restore the file from a backup, or set session_key and encryption_key"
    )]
    Corrupt { path: String, reason: String },
    #[error("{0} is not valid base64 of at least 32 bytes")]
    BadKey(&'static str),
    #[error("stored secret could not be decrypted (wrong encryption key or corrupted data)")]
    Decrypt,
}

/// Keys the portal needs at run time.
#[derive(Clone)]
pub struct Keys {
    pub session: [u8; 32],
    pub encryption: [u8; 32],
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(***)")
    }
}

#[derive(Serialize, Deserialize)]
struct PersistedKeys {
    session_key: String,
    encryption_key: String,
}

impl Keys {
    /// Use configured keys, else the ones persisted under `data_dir`, else
    /// generate, persist (mode 0600) and use new ones.
    pub fn load_or_generate(
        data_dir: &Path,
        session: Option<&SecretString>,
        encryption: Option<&SecretString>,
    ) -> Result<Self, SecretsError> {
        let path = data_dir.join("secrets.json");
        let io = |source| SecretsError::Io {
            path: path.display().to_string(),
            source,
        };
        let corrupt = |reason: String| SecretsError::Corrupt {
            path: path.display().to_string(),
            reason,
        };
        let persisted: Option<PersistedKeys> = match std::fs::read(&path) {
            Ok(bytes) => {
                let keys: PersistedKeys =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                for (name, key) in [
                    ("session_key", &keys.session_key),
                    ("encryption_key", &keys.encryption_key),
                ] {
                    decode_key(key, name).map_err(|e| corrupt(e.to_string()))?;
                }
                Some(keys)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        let persisted = match persisted {
            Some(p) => p,
            None => {
                let p = PersistedKeys {
                    session_key: random_key_b64(),
                    encryption_key: random_key_b64(),
                };
                std::fs::create_dir_all(data_dir).map_err(io)?;
                write_private(&path, &serde_json::to_vec_pretty(&p).unwrap_or_default())
                    .map_err(io)?;
                p
            }
        };
        let session = decode_key(
            session
                .map(|s| s.expose())
                .unwrap_or(&persisted.session_key),
            "session_key",
        )?;
        let encryption = decode_key(
            encryption
                .map(|s| s.expose())
                .unwrap_or(&persisted.encryption_key),
            "encryption_key",
        )?;
        Ok(Self {
            session,
            encryption,
        })
    }

    /// Encrypts a small secret for storage (XChaCha20-Poly1305, random nonce).
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let cipher = XChaCha20Poly1305::new((&self.encryption).into());
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail.
        let ct = cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SecretsError> {
        let raw = STANDARD.decode(sealed).map_err(|_| SecretsError::Decrypt)?;
        if raw.len() < 24 + 16 {
            return Err(SecretsError::Decrypt);
        }
        let (nonce, ct) = raw.split_at(24);
        XChaCha20Poly1305::new((&self.encryption).into())
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| SecretsError::Decrypt)
    }
}

fn random_key_b64() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    STANDARD.encode(key)
}

fn decode_key(b64: &str, name: &'static str) -> Result<[u8; 32], SecretsError> {
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|_| SecretsError::BadKey(name))?;
    if bytes.len() < 32 {
        return Err(SecretsError::BadKey(name));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes[..32]);
    Ok(key)
}

/// Writes a 0600 file whole or not at all (a crash mid-write must not
/// leave a truncated key file behind): a temporary file, synced, renamed.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_detects_tampering() {
        let dir = std::env::temp_dir().join(format!("tv-keys-{}", std::process::id()));
        let keys = Keys::load_or_generate(&dir, None, None).expect("keys");
        let again = Keys::load_or_generate(&dir, None, None).expect("keys persisted");
        assert_eq!(
            keys.encryption, again.encryption,
            "keys must persist across restarts"
        );
        let sealed = keys.seal(b"totp-secret");
        assert_eq!(again.open(&sealed).expect("open"), b"totp-secret");
        let mut tampered = STANDARD.decode(&sealed).expect("b64");
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(keys.open(&STANDARD.encode(tampered)).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_corrupt_key_file_stops_the_start_and_is_left_alone() {
        let dir = std::env::temp_dir().join(format!("tv-corrupt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("secrets.json");
        for bad in [
            &b"{\"session_key\": \"trunc"[..],
            &b"{\"session_key\": \"c2hvcnQ=\", \"encryption_key\": \"c2hvcnQ=\"}"[..],
            &b""[..],
        ] {
            std::fs::write(&path, bad).expect("write");
            let err = Keys::load_or_generate(&dir, None, None).expect_err("refused");
            assert!(matches!(err, SecretsError::Corrupt { .. }), "{err}");
            assert!(err.to_string().contains("Refusing to start"), "{err}");
            assert_eq!(std::fs::read(&path).expect("read"), bad, "not replaced");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
