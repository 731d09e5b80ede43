//! The node's WireGuard key pair, made here so the private key never leaves
//! the machine (the same x25519 the portal uses; `wg pubkey` agrees).

use base64::{engine::general_purpose::STANDARD, Engine};
use x25519_dalek::{PublicKey, StaticSecret};

pub struct KeyPair {
    pub private: String,
    pub public: String,
}

pub fn generate_keypair() -> std::io::Result<KeyPair> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(std::io::Error::other)?;
    let secret = StaticSecret::from(bytes);
    let public = PublicKey::from(&secret);
    Ok(KeyPair {
        private: STANDARD.encode(secret.to_bytes()),
        public: STANDARD.encode(public.as_bytes()),
    })
}

/// Writes a file only its owner can read (keys, tokens).
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_wireguard_sized() {
        let k = super::generate_keypair().unwrap();
        assert_eq!((k.private.len(), k.public.len()), (44, 44));
    }
}
