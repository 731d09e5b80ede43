//! Cookie names and `Set-Cookie` values.

pub const SESSION: &str = "tv_session";
pub const LOGIN_CHALLENGE: &str = "tv_2fa";

/// HttpOnly + SameSite=Lax always; Secure when served over HTTPS.
pub fn set(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear(name: &str, secure: bool) -> String {
    set(name, "", 0, secure)
}

/// Reads one cookie from a `Cookie` header.
pub fn get<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_builds() {
        assert_eq!(get("a=1; tv_session=abc; b=2", SESSION), Some("abc"));
        assert_eq!(get("a=1", SESSION), None);
        let c = set(SESSION, "x", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"));
        assert!(!set(SESSION, "x", 60, false).contains("Secure"));
    }
}
