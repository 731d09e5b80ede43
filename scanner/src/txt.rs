//! What a DNS-SD TXT record tells about a device: model, maker, friendly
//! name. Keys differ per protocol (Chromecast `md`/`fn`, AirPlay `model`,
//! RAOP `am`, IPP `ty`/`usb_MDL`/`product`, HomeKit `md`, device-info `model`).

use crate::error::{Result, ScanError};
use truevault_wire::inventory::MAX_TEXT;

/// A TXT record is at most 8900-odd bytes in practice and each string 255;
/// more than this many strings is not a device, it's an attack.
pub const MAX_PAIRS: usize = 128;
pub const MAX_STRING: usize = 255;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxtInfo {
    pub model: Option<String>,
    pub manufacturer: Option<String>,
    pub friendly_name: Option<String>,
}

/// Keys in order of how well they name the model.
const MODEL_KEYS: &[&str] = &["md", "model", "usb_MDL", "ty", "product", "am", "mdl"];
const MAKER_KEYS: &[&str] = &["manufacturer", "usb_MFG", "mfg", "vendor"];
const NAME_KEYS: &[&str] = &["fn", "name", "n"];

/// Cleans a TXT value for display: no control characters, trimmed,
/// `(…)` unwrapped (IPP's `product`), at most `MAX_TEXT` bytes.
pub fn clean(v: &str) -> Option<String> {
    let v = v.trim();
    let v = v
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(v);
    let mut out = String::new();
    for c in v.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_TEXT {
            break;
        }
        out.push(c);
    }
    let out = out.trim().to_string();
    (!out.is_empty()).then_some(out)
}

/// Reads the pairs of one TXT record (`key`, raw value). Oversized records,
/// strings longer than DNS allows, and non-UTF-8 keys are errors.
pub fn from_pairs<'a, I>(pairs: I) -> Result<TxtInfo>
where
    I: IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
{
    let err = |why: &str| ScanError::parse("TXT record", why);
    let mut seen: Vec<(&str, Option<&[u8]>)> = Vec::new();
    for (k, v) in pairs {
        if seen.len() >= MAX_PAIRS {
            return Err(err("too many strings"));
        }
        let len = k.len() + v.map_or(0, |v| v.len() + 1);
        if k.is_empty() || len > MAX_STRING {
            return Err(err("string too long or empty key"));
        }
        if k.chars().any(|c| c.is_control() || c == '=') {
            return Err(err("bad key"));
        }
        seen.push((k, v));
    }
    let pick = |keys: &[&str]| -> Option<String> {
        keys.iter().find_map(|want| {
            seen.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(want))
                .and_then(|(_, v)| *v)
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(clean)
        })
    };
    Ok(TxtInfo {
        model: pick(MODEL_KEYS),
        manufacturer: pick(MAKER_KEYS),
        friendly_name: pick(NAME_KEYS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromecast_and_ipp() {
        let cc = from_pairs([
            ("id", Some(&b"abc"[..])),
            ("md", Some(&b"Chromecast Ultra"[..])),
            ("fn", Some(&b"Living Room TV"[..])),
        ])
        .expect("ok");
        assert_eq!(cc.model.as_deref(), Some("Chromecast Ultra"));
        assert_eq!(cc.friendly_name.as_deref(), Some("Living Room TV"));
        let ipp = from_pairs([
            ("product", Some(&b"(HP LaserJet M404)"[..])),
            ("usb_MFG", Some(&b"HP"[..])),
        ])
        .expect("ok");
        assert_eq!(ipp.model.as_deref(), Some("HP LaserJet M404"));
        assert_eq!(ipp.manufacturer.as_deref(), Some("HP"));
    }

    #[test]
    fn bounds() {
        let long = vec![b'a'; 300];
        assert!(from_pairs([("md", Some(&long[..]))]).is_err());
        assert!(from_pairs([("", None)]).is_err());
        let many: Vec<(&str, Option<&[u8]>)> = (0..200).map(|_| ("k", None)).collect();
        assert!(from_pairs(many).is_err());
        // Invalid UTF-8 in a value only loses that value.
        let bad = from_pairs([("md", Some(&b"\xff\xfe"[..]))]).expect("ok");
        assert_eq!(bad.model, None);
    }
}
