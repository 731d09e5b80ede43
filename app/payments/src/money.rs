//! Exact decimal-string → minor-units conversion (PayPal sends "9.99").

use crate::WebhookError;

/// Number of decimal places of a currency's minor unit, as PayPal uses them.
/// PayPal's zero-decimal currencies are HUF, JPY and TWD; every other
/// currency it supports has two.
pub fn currency_exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "HUF" | "JPY" | "TWD" => 0,
        _ => 2,
    }
}

/// Parses a non-negative decimal string such as `"9.99"` into minor units of
/// `currency` (`999`). Exact: no floats. Accepted: ASCII digits, optionally a
/// dot followed by at least one digit; fewer fraction digits than the
/// currency has are padded (`"9.9"` → 990), more are accepted only when the
/// extra ones are zeros (`"100.00"` JPY → 100). Refused: empty, signs,
/// exponents, spaces, commas, `NaN`, a bare dot, overflow.
pub fn parse_decimal_amount(value: &str, currency: &str) -> Result<i64, WebhookError> {
    let bad = |detail: &str| WebhookError::BadAmount {
        value: crate::truncate(value, 32),
        detail: detail.to_string(),
    };
    let exp = currency_exponent(currency) as usize;
    let (int_part, frac_part) = match value.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (value, None),
    };
    if int_part.is_empty() {
        return Err(bad("no digits before the decimal point"));
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a plain decimal number"));
    }
    let frac = frac_part.unwrap_or("");
    if frac_part.is_some() && frac.is_empty() {
        return Err(bad("no digits after the decimal point"));
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a plain decimal number"));
    }
    let (kept, extra) = frac.split_at(frac.len().min(exp));
    if extra.bytes().any(|b| b != b'0') {
        return Err(bad("more decimal places than the currency has"));
    }
    let overflow = || bad("too large");
    let mut units: i64 = 0;
    for b in int_part.bytes().chain(kept.bytes()) {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    for _ in kept.len()..exp {
        units = units.checked_mul(10).ok_or_else(overflow)?;
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_decimal_amount("9.99", "USD").unwrap(), 999);
        assert_eq!(parse_decimal_amount("0.01", "EUR").unwrap(), 1);
        assert_eq!(parse_decimal_amount("10", "usd").unwrap(), 1000);
        assert_eq!(parse_decimal_amount("9.9", "USD").unwrap(), 990);
        assert_eq!(parse_decimal_amount("99.90", "USD").unwrap(), 9990);
        assert_eq!(parse_decimal_amount("0.10", "USD").unwrap(), 10);
        assert_eq!(parse_decimal_amount("1000", "JPY").unwrap(), 1000);
        assert_eq!(parse_decimal_amount("1000.00", "JPY").unwrap(), 1000);
        assert_eq!(parse_decimal_amount("12.500", "USD").unwrap(), 1250);
        // Values floats get wrong stay exact.
        assert_eq!(parse_decimal_amount("0.29", "USD").unwrap(), 29);
        assert_eq!(parse_decimal_amount("1.15", "USD").unwrap(), 115);
        assert_eq!(
            parse_decimal_amount("92233720368547758.07", "USD").unwrap(),
            i64::MAX
        );
    }

    #[test]
    fn refuses_malformed() {
        for v in [
            "",
            ".",
            ".5",
            "5.",
            "-1.00",
            "+1.00",
            "1e3",
            "NaN",
            "inf",
            " 1.00",
            "1.00 ",
            "1,00",
            "1.0.0",
            "1.999",
            "١٢",
            "92233720368547758.08",
            "99999999999999999999",
        ] {
            assert!(
                matches!(
                    parse_decimal_amount(v, "USD"),
                    Err(WebhookError::BadAmount { .. })
                ),
                "{v:?} accepted"
            );
        }
        assert!(parse_decimal_amount("1.5", "JPY").is_err());
    }
}
