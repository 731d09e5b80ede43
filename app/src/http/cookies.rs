//! Cookie names and `Set-Cookie` values.

pub const SESSION: &str = "tv_session";
pub const LOGIN_CHALLENGE: &str = "tv_2fa";

/// The name a cookie goes by. Over HTTPS it carries the `__Host-` prefix:
/// browsers then accept it only with `Secure`, `Path=/` and no `Domain`, so
/// a sibling subdomain (or a plain-http page of the same host) cannot plant
/// or overwrite a session cookie for us. Plain-http first runs on loopback
/// cannot use the prefix (it needs `Secure`).
pub fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// HttpOnly + SameSite=Lax always; Secure (and the `__Host-` name) when
/// served over HTTPS. `base` is the name without the prefix.
pub fn set(base: &str, value: &str, max_age: i64, secure: bool) -> String {
    let name = name(base, secure);
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
        assert!(c.starts_with("__Host-tv_session=x; Path=/;") && !c.contains("Domain"));
        assert!(set(SESSION, "x", 60, false).starts_with("tv_session=x;"));
    }
}
