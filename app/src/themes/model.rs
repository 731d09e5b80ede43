//! Theme types and the validation rules that keep a theme value from
//! injecting markup, script or foreign URLs into the page's CSS.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ThemeVariable {
    pub category: String,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ThemeSummary {
    pub id: i64,
    pub name: String,
    pub slug: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::typed::Flag"))]
    pub is_active: bool,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::typed::Flag"))]
    pub is_published: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theme {
    pub summary: ThemeSummary,
    pub variables: Vec<ThemeVariable>,
}

pub const VALUE_MAX: usize = 200;
pub const IDENT_MAX: usize = 40;

/// Category and variable names become part of a custom property name:
/// lower-case letters, digits and single dashes only.
pub fn validate_ident(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= IDENT_MAX
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{}\" must be 1-{IDENT_MAX} lower-case letters, digits or dashes.",
            truncate(s)
        ))
    }
}

/// A value may be a colour, length, number, font list or gradient: a
/// whitelist of characters (no `;`, `{`, `}`, `<`, `>`, `\`, `@`), balanced
/// parentheses, no comments, and no functions that load or evaluate
/// anything (`url(`, `image(`, `expression(`, `image-set(`, `attr(`).
pub fn validate_value(v: &str) -> Result<(), String> {
    let v = v.trim();
    if v.is_empty() {
        return Err("A value is required.".into());
    }
    if v.chars().count() > VALUE_MAX {
        return Err(format!("A value must be at most {VALUE_MAX} characters."));
    }
    if let Some(bad) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || " #%(),.-+_/*'\"!".contains(*c)))
    {
        return Err(format!(
            "The character {bad:?} is not allowed in a theme value."
        ));
    }
    let lower = v.to_ascii_lowercase();
    for banned in [
        "url(",
        "image(",
        "image-set(",
        "expression(",
        "attr(",
        "/*",
        "*/",
        "!important",
        "javascript",
    ] {
        if lower.contains(banned) {
            return Err(format!("\"{banned}\" is not allowed in a theme value."));
        }
    }
    let mut depth = 0i32;
    for c in v.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return Err("Unbalanced parentheses.".into());
        }
    }
    if depth != 0 {
        return Err("Unbalanced parentheses.".into());
    }
    for q in ['\'', '"'] {
        if v.chars().filter(|c| *c == q).count() % 2 != 0 {
            return Err("Unbalanced quotes.".into());
        }
    }
    Ok(())
}

pub fn validate_variable(var: &ThemeVariable) -> Result<(), String> {
    validate_ident(&var.category)?;
    validate_ident(&var.name)?;
    validate_value(&var.value).map_err(|e| format!("--{}-{}: {e}", var.category, var.name))
}

pub fn validate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 60
        || name.chars().any(|c| c.is_control() || "<>".contains(c))
    {
        return Err("A theme name is 1-60 characters, without < or >.".into());
    }
    Ok(name.to_string())
}

/// Renders validated variables as a `:root { … }` block.
pub fn render_css(vars: &[ThemeVariable]) -> String {
    let mut css = String::from(":root{");
    for v in vars.iter().filter(|v| validate_variable(v).is_ok()) {
        css.push_str("--");
        css.push_str(&v.category);
        css.push('-');
        css.push_str(&v.name);
        css.push(':');
        css.push_str(v.value.trim());
        css.push(';');
    }
    css.push('}');
    css
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_seed_values() {
        for v in [
            "#00d9ff",
            "rgba(255,255,255,0.08)",
            "linear-gradient(90deg, #00d9ff, #00ff88)",
            "Inter, -apple-system, BlinkMacSystemFont, sans-serif",
            "16px",
            "1.5",
            "10px 20px",
            "'Open Sans', sans-serif",
        ] {
            assert_eq!(validate_value(v), Ok(()), "{v}");
        }
    }

    #[test]
    fn rejects_injection() {
        for v in [
            "red;}</style><script>alert(1)</script>",
            "red; background: blue",
            "url(https://evil.example/x.png)",
            "URL(//evil)",
            "expression(alert(1))",
            "red /* comment */",
            "}body{display:none",
            "calc(1px",
            "\"unterminated",
            "red\\3b",
            "@import 'x'",
            "",
        ] {
            assert!(validate_value(v).is_err(), "{v} must be rejected");
        }
        assert!(validate_value(&"a".repeat(201)).is_err());
    }

    #[test]
    fn idents_are_strict() {
        assert!(validate_ident("background-secondary").is_ok());
        for bad in [
            "",
            "Colors",
            "a b",
            "x;y",
            "-x",
            "x-",
            "a--b",
            &"a".repeat(41),
        ] {
            assert!(validate_ident(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn css_has_custom_properties_and_skips_invalid() {
        let css = render_css(&[
            ThemeVariable {
                category: "colors".into(),
                name: "primary".into(),
                value: "#00d9ff".into(),
            },
            ThemeVariable {
                category: "colors".into(),
                name: "bad".into(),
                value: "red;}".into(),
            },
        ]);
        assert_eq!(css, ":root{--colors-primary:#00d9ff;}");
    }
}

/// Theme values are typed by administrators and end up inside a `<style>`
/// on every page: whatever is accepted must stay one declaration. 256
/// cases by default; `PROPTEST_CASES=100000` for a long run.
#[cfg(test)]
mod prop_tests {
    use super::*;
    use proptest::prelude::*;

    fn css_ish() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                4 => proptest::char::range('a', 'z'),
                2 => proptest::sample::select(" #%(),.-+_/*'\"!0123456789".chars().collect::<Vec<_>>()),
                1 => proptest::sample::select(";{}<>\\@:\n\u{0}".chars().collect::<Vec<_>>()),
                1 => any::<char>(),
            ],
            0..60,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn accepted_values_stay_one_declaration(
            vars in proptest::collection::vec(("[a-z-]{0,12}", "[a-z0-9-]{0,12}", css_ish()), 0..6),
        ) {
            let vars: Vec<ThemeVariable> = vars
                .into_iter()
                .map(|(category, name, value)| ThemeVariable { category, name, value })
                .collect();
            let accepted: Vec<&ThemeVariable> = vars.iter().filter(|v| validate_variable(v).is_ok()).collect();
            let css = render_css(&vars);
            prop_assert!(css.starts_with(":root{") && css.ends_with('}'), "{}", css);
            prop_assert_eq!(css.matches('{').count(), 1, "{}", css);
            prop_assert_eq!(css.matches('}').count(), 1, "{}", css);
            prop_assert_eq!(css.matches(';').count(), accepted.len(), "{}", css);
            let lower = css.to_ascii_lowercase();
            for banned in ["url(", "expression(", "</", "@import", "\\", "/*"] {
                prop_assert!(!lower.contains(banned), "{banned} in {css}");
            }
            for v in accepted {
                let decl = format!("--{}-{}:{};", v.category, v.name, v.value.trim());
                prop_assert!(css.contains(&decl), "{decl} missing from {css}");
            }
        }
    }
}
