//! The kinds a plan counts, one counted item, and the rule that splits a
//! user's items into kept and paused.

use serde::{Deserialize, Serialize};

crate::string_enum! {
    /// What a plan counts and a smaller plan pauses.
    pub enum KeepKind {
        Device = "device",
        Identity = "identity",
        Camera = "camera",
    }
}

impl KeepKind {
    /// The kind in words, for headings ("Devices").
    pub fn plural_label(self) -> &'static str {
        match self {
            KeepKind::Device => "Devices",
            KeepKind::Identity => "Regional identities",
            KeepKind::Camera => "Cameras",
        }
    }
}

/// One device, identity or camera as the choice sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepItem {
    pub kind: KeepKind,
    pub id: i64,
    pub name: String,
    /// The user's choice to keep it (higher: chosen more recently).
    pub kept_rank: Option<i64>,
    /// Its last handshake (devices) or last pull (cameras).
    pub last_used: Option<i64>,
    pub paused: bool,
}

/// The rule: what the user chose to keep comes first (the latest choice
/// first), then the most recently used, then the newest; the first `max`
/// are kept (`None`: all of them), the rest paused.
pub fn split_kept(mut items: Vec<KeepItem>, max: Option<i64>) -> (Vec<KeepItem>, Vec<KeepItem>) {
    items.sort_by(|a, b| {
        b.kept_rank
            .cmp(&a.kept_rank)
            .then(b.last_used.cmp(&a.last_used))
            .then(b.id.cmp(&a.id))
    });
    let keep = max.map_or(items.len(), |m| usize::try_from(m.max(0)).unwrap_or(0));
    let paused = items.split_off(keep.min(items.len()));
    (items, paused)
}

/// What a coming plan change keeps and pauses, per kind with something to
/// pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepPreview {
    pub plan_name: String,
    /// When the change takes effect (the end of the paid period).
    pub at: i64,
    pub kinds: Vec<KindPreview>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindPreview {
    pub kind: KeepKind,
    /// How many the coming plan includes.
    pub max: i64,
    pub keep: Vec<KeepItem>,
    pub pause: Vec<KeepItem>,
}

/// The keep form as a page posts it (every field text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepForm {
    pub kind: String,
    pub id: String,
}

/// A checked keep choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepChoice {
    pub kind: KeepKind,
    pub id: i64,
}

impl TryFrom<KeepForm> for KeepChoice {
    type Error = crate::error::AppError;

    fn try_from(f: KeepForm) -> Result<Self, Self::Error> {
        let kind = KeepKind::parse(f.kind.trim())
            .ok_or_else(|| crate::error::AppError::invalid_field("kind", "Unknown kind."))?;
        let id =
            f.id.trim()
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| crate::error::AppError::invalid_field("id", "Unknown item."))?;
        Ok(KeepChoice { kind, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, kept_rank: Option<i64>, last_used: Option<i64>) -> KeepItem {
        KeepItem {
            kind: KeepKind::Device,
            id,
            name: format!("d{id}"),
            kept_rank,
            last_used,
            paused: false,
        }
    }

    fn ids(v: &[KeepItem]) -> Vec<i64> {
        v.iter().map(|i| i.id).collect()
    }

    #[test]
    fn the_most_recently_used_is_kept_unless_the_user_chose() {
        let items = vec![
            item(1, None, Some(10)),
            item(2, None, Some(30)),
            item(3, None, None),
        ];
        let (keep, pause) = split_kept(items.clone(), Some(1));
        assert_eq!(ids(&keep), [2]);
        assert_eq!(ids(&pause), [1, 3]);
        let mut chosen = items;
        chosen[2].kept_rank = Some(1);
        let (keep, pause) = split_kept(chosen.clone(), Some(1));
        assert_eq!(ids(&keep), [3], "the user's choice beats recent use");
        assert_eq!(ids(&pause), [2, 1]);
        chosen[0].kept_rank = Some(2);
        let (keep, _) = split_kept(chosen.clone(), Some(2));
        assert_eq!(ids(&keep), [1, 3], "the latest choice first");
        let (keep, pause) = split_kept(chosen.clone(), None);
        assert_eq!(keep.len(), 3);
        assert!(pause.is_empty());
        let (keep, pause) = split_kept(chosen, Some(0));
        assert!(keep.is_empty());
        assert_eq!(pause.len(), 3);
    }

    #[test]
    fn a_keep_form_is_checked() {
        let ok = KeepChoice::try_from(KeepForm {
            kind: "camera".into(),
            id: " 7 ".into(),
        })
        .unwrap();
        assert_eq!(
            ok,
            KeepChoice {
                kind: KeepKind::Camera,
                id: 7
            }
        );
        for (kind, id) in [
            ("printer", "1"),
            ("device", "x"),
            ("device", "-1"),
            ("device", ""),
        ] {
            let form = KeepForm {
                kind: kind.into(),
                id: id.into(),
            };
            assert!(KeepChoice::try_from(form).is_err(), "{kind} {id}");
        }
    }
}
