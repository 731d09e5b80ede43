//! Lists that follow the forms that change them, also when a form was sent
//! while the page was still hydrating.
//!
//! A resource keyed on `action.version()` refetches when the version moves
//! after the resource has started tracking it. A submit that lands while the
//! page hydrates can move the version before that (the list then keeps the
//! server-rendered rows and the new one never shows). Here the versions are
//! read by an effect, which runs once hydration is done: its first run
//! refetches if any action already finished, and every later move refetches.
//! Without JavaScript the form posts, the server redirects back and the
//! page is rendered fresh, so both paths show the new state.

use leptos::prelude::*;

/// Refetches `resource` whenever `versions` (the sum of the versions of the
/// actions that change it) moves, counting moves made during hydration.
pub fn refetch_after<T>(resource: Resource<T>, versions: impl Fn() -> usize + Send + Sync + 'static)
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    Effect::new(move |seen: Option<usize>| {
        let now = versions();
        if seen.map_or(now > 0, |s| s != now) {
            resource.refetch();
        }
        now
    });
}
