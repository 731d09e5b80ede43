//! Password policy and argon2id hashing.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use crate::error::AppError;

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 128;

/// Length in characters (not bytes) between 12 and 128, not all one
/// character, and not simply the user's e-mail address.
pub fn check_policy(password: &str, email: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(AppError::Validation(format!(
            "Password must be at least {MIN_LEN} characters."
        )));
    }
    if chars > MAX_LEN {
        return Err(AppError::Validation(format!(
            "Password must be at most {MAX_LEN} characters."
        )));
    }
    let mut it = password.chars();
    let first = it.next();
    if it.all(|c| Some(c) == first) {
        return Err(AppError::Validation(
            "Password must not be one repeated character.".into(),
        ));
    }
    if !email.is_empty() && password.eq_ignore_ascii_case(email) {
        return Err(AppError::Validation(
            "Password must not be your e-mail address.".into(),
        ));
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AppError::internal)
}

pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// [`hash`] on the blocking pool: argon2 takes tens of milliseconds of CPU,
/// which on the async runtime would stall every other request on that thread.
pub async fn hash_off_runtime(password: &str) -> Result<String, AppError> {
    let p = password.to_string();
    tokio::task::spawn_blocking(move || hash(&p))
        .await
        .map_err(AppError::internal)?
}

/// [`verify`] on the blocking pool.
pub async fn verify_off_runtime(password: &str, phc: &str) -> Result<bool, AppError> {
    let (p, h) = (password.to_string(), phc.to_string());
    tokio::task::spawn_blocking(move || verify(&p, &h))
        .await
        .map_err(AppError::internal)
}

/// A real argon2id hash of a random password, verified against when the
/// account does not exist so both answers take the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        hash(&crate::accounts::tokens::random_token())
            .unwrap_or_else(|_| String::from("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_bounds_are_in_characters() {
        assert!(check_policy("short", "a@b.c").is_err());
        assert!(check_policy("elevenchars", "a@b.c").is_err());
        assert!(check_policy("twelve chars", "a@b.c").is_ok());
        assert!(check_policy(&"ab".repeat(64), "a@b.c").is_ok());
        assert!(check_policy(&"ab".repeat(64).replacen('a', "xa", 1), "a@b.c").is_err());
        // 12 multi-byte characters are 12 characters.
        assert!(check_policy("ééééééééééé€", "a@b.c").is_ok());
        assert!(check_policy("aaaaaaaaaaaaaaaa", "a@b.c").is_err());
        assert!(check_policy("Longuser@example.com", "longuser@example.com").is_err());
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert!(!verify("x", "not a hash"));
    }
}
