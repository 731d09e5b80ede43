//! Opaque random tokens (sessions, mailed links, agent tokens): shown once,
//! stored only as a SHA-256 hash, with expiry rules.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a mailed e-mail verification link stays valid.
pub const VERIFY_EMAIL_TTL: i64 = 24 * 3600;
/// How long a password reset link stays valid.
pub const RESET_PASSWORD_TTL: i64 = 3600;
/// How long the second step of a two-factor login may take.
pub const LOGIN_2FA_TTL: i64 = 5 * 60;
/// Session lifetime.
pub const SESSION_TTL: i64 = 30 * 24 * 3600;

/// 256 random bits, URL-safe base64, never starting with `-` or `_`: a
/// token is pasted into command lines (`truevault node --token …`), where a
/// leading `-` reads as an option. The first character comes from the top
/// six bits, so drawing again when they are 62 or 63 keeps every other
/// token equally likely (about 255.9 bits remain).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    loop {
        rand::thread_rng().fill_bytes(&mut bytes);
        if bytes[0] >> 2 < 62 {
            return URL_SAFE_NO_PAD.encode(bytes);
        }
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A token can be used once, before it expires.
pub fn is_usable(expires_at: i64, used_at: Option<i64>, now: i64) -> bool {
    used_at.is_none() && now < expires_at
}

/// Tokens we hand out are 43 URL-safe characters; anything else is rejected
/// before touching the database.
pub fn looks_like_token(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert!(looks_like_token(&a));
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), a, "the stored form must not be the token");
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&format!("{}'", &a[..42])));
    }

    #[test]
    fn tokens_never_start_like_an_option() {
        // One in 32 draws used to start with `-` or `_`; 4,000 draws would
        // have shown ~125 of them.
        for _ in 0..4000 {
            let t = random_token();
            assert!(t.as_bytes()[0].is_ascii_alphanumeric(), "{t}");
            assert!(looks_like_token(&t));
        }
    }

    #[test]
    fn expiry_and_single_use() {
        assert!(is_usable(100, None, 99));
        assert!(!is_usable(100, None, 100));
        assert!(!is_usable(100, Some(50), 60));
    }
}
