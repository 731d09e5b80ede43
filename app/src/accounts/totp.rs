//! RFC 6238 time-based one-time passwords (HMAC-SHA1, 30 s steps, 6 digits)
//! and recovery codes. Each code is accepted once: the caller stores the last
//! accepted step and passes it back in.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
/// Steps of clock skew tolerated either side of now.
pub const WINDOW: i64 = 1;

pub fn generate_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    rand::thread_rng().fill_bytes(&mut s);
    s
}

/// The code for one time step (RFC 4226 dynamic truncation).
pub fn code_at_step(secret: &[u8], step: i64) -> u32 {
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return u32::MAX, // HMAC takes any key length; unreachable
    };
    mac.update(&(step as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let bin = ((digest[offset] as u32 & 0x7f) << 24)
        | ((digest[offset + 1] as u32) << 16)
        | ((digest[offset + 2] as u32) << 8)
        | digest[offset + 3] as u32;
    bin % 10u32.pow(DIGITS)
}

pub fn format_code(code: u32) -> String {
    format!("{code:0width$}", width = DIGITS as usize)
}

/// Checks `input` against the steps around `now`. Returns the matched step
/// if it is newer than `last_used_step` (so a code cannot be replayed).
pub fn verify(secret: &[u8], input: &str, now: i64, last_used_step: i64) -> Option<i64> {
    let input: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if input.len() != DIGITS as usize || !input.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.div_euclid(STEP_SECONDS);
    (current - WINDOW..=current + WINDOW)
        .filter(|step| *step > last_used_step)
        .find(|step| {
            let expected = format_code(code_at_step(secret, *step));
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), input.as_bytes()).into()
        })
}

/// Base32 (RFC 4648, no padding) as authenticator apps expect.
pub fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for &b in data {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    format!(
        "otpauth://totp/TrueVault:{}?secret={}&issuer=TrueVault&digits=6&period=30",
        url::form_urlencoded::byte_serialize(account.as_bytes()).collect::<String>(),
        base32(secret)
    )
}

/// Ten recovery codes like `7f3k-9qzm-2hxd`.
pub fn generate_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| {
            let chars: String = (0..12)
                .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
        })
        .collect()
}

pub fn normalize_recovery_code(input: &str) -> String {
    input.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B vectors (SHA-1 seed "12345678901234567890"),
    /// truncated to 6 digits.
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, expected) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(format_code(code_at_step(secret, t / 30)), expected, "t={t}");
        }
    }

    #[test]
    fn window_and_replay() {
        let secret = b"12345678901234567890";
        let now = 1111111111;
        let step = now / 30;
        let code = format_code(code_at_step(secret, step));
        assert_eq!(verify(secret, &code, now, 0), Some(step));
        // Same code again after it was accepted: refused.
        assert_eq!(verify(secret, &code, now, step), None);
        // Previous step still accepted (clock skew), two steps back is not.
        let prev = format_code(code_at_step(secret, step - 1));
        assert_eq!(verify(secret, &prev, now, 0), Some(step - 1));
        let old = format_code(code_at_step(secret, step - 2));
        assert_eq!(verify(secret, &old, now, 0), None);
        assert_eq!(verify(secret, "12345", now, 0), None);
        assert_eq!(verify(secret, "abcdef", now, 0), None);
    }

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn recovery_codes_are_distinct() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), 10);
        let set: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), 10);
    }
}
