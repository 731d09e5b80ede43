//! WireGuard keys: Curve25519 (x25519) pairs and preshared keys, base64 as
//! `wg` writes them. Compiled into the browser bundle too: by default the
//! device's key pair is made in the browser and only the public key is sent.

use base64::{engine::general_purpose::STANDARD, Engine};
use x25519_dalek::{PublicKey, StaticSecret};

/// 32 bytes from the OS (in the browser: `crypto.getRandomValues`).
fn random_32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    if getrandom::getrandom(&mut bytes).is_err() {
        // No entropy source means no safe key; refuse loudly rather than
        // hand out a predictable one.
        panic!("no secure random number source available");
    }
    bytes
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub private: String,
    pub public: String,
}

pub fn generate_keypair() -> KeyPair {
    keypair_from_private(random_32())
}

/// Clamping happens inside x25519; `wg pubkey` gives the same public key.
pub fn keypair_from_private(bytes: [u8; 32]) -> KeyPair {
    let secret = StaticSecret::from(bytes);
    let public = PublicKey::from(&secret);
    KeyPair {
        private: STANDARD.encode(secret.to_bytes()),
        public: STANDARD.encode(public.as_bytes()),
    }
}

/// 32 random bytes, like `wg genpsk`.
pub fn generate_preshared_key() -> String {
    STANDARD.encode(random_32())
}

/// A WireGuard key: exactly 32 bytes in standard base64 (44 characters,
/// one `=`). Returns the canonical form.
pub fn parse_key(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.len() != 44 || !s.ends_with('=') {
        return Err("A WireGuard key is 44 characters of base64 ending in '='.".into());
    }
    match STANDARD.decode(s) {
        Ok(bytes) if bytes.len() == 32 => {
            if bytes.iter().all(|b| *b == 0) {
                return Err("That key is all zeros.".into());
            }
            Ok(STANDARD.encode(bytes))
        }
        _ => Err("A WireGuard key is 32 bytes of base64.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_wg_pubkey_vector() {
        // `echo 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=' | wg pubkey`
        let private = STANDARD
            .decode("yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=")
            .unwrap();
        let pair = keypair_from_private(private.try_into().unwrap());
        assert_eq!(pair.public, "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=");
    }

    #[test]
    fn keys_are_validated() {
        let pair = generate_keypair();
        assert_eq!(parse_key(&pair.public), Ok(pair.public.clone()));
        assert_eq!(parse_key(&format!(" {} ", pair.public)), Ok(pair.public));
        assert!(parse_key("abc").is_err());
        assert!(parse_key(&STANDARD.encode([1u8; 31])).is_err());
        assert!(parse_key(&STANDARD.encode([0u8; 32])).is_err());
        assert!(parse_key("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=").is_err());
        assert_eq!(generate_preshared_key().len(), 44);
    }
}
