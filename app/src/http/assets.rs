//! The browser bundle's URLs and how long browsers keep them.
//!
//! The bundle (script, wasm) and the stylesheet are served under
//! `/pkg/<build>/`, `<build>` a hash of their contents made at start-up: a
//! new build is a new URL, so they can be cached for a year as immutable,
//! and no browser runs an old bundle against a new server. Only the current
//! build's path exists; any other is a 404 rather than today's files under
//! yesterday's name. `/pkg/…` without a build (the icons and favicon, which
//! pages and the inventory's markup name directly) keeps a short max-age.
//! HTML is revalidated on every load (`no-cache`, and `private` as pages
//! are per user), so a new build reaches browsers with the next page. The
//! precompressed Brotli and gzip files are chosen by `Accept-Encoding`.

use std::path::Path;

use axum::{
    body::Body,
    http::{header, HeaderValue, Response},
    Router,
};
use sha2::{Digest, Sha256};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

/// The files pages reach through the build's path.
pub const BUNDLE_FILES: [&str; 3] = ["truevault.js", "truevault_bg.wasm", "truevault.css"];

pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
pub const SHORT: &str = "public, max-age=300";
pub const HTML: &str = "private, no-cache";

/// Sixteen hex digits of a hash over the bundle's files (whichever exist).
pub fn build_id(pkg_dir: &Path) -> String {
    let mut hash = Sha256::new();
    for name in BUNDLE_FILES {
        if let Ok(bytes) = std::fs::read(pkg_dir.join(name)) {
            hash.update(name.as_bytes());
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(&bytes);
        }
    }
    hex::encode(&hash.finalize()[..8])
}

/// `/pkg/<build>/…` immutable and `/pkg/…` short-lived, both from
/// `pkg_dir`, precompressed files preferred. `build_path` is
/// `/pkg/<build>`, as `LeptosOptions::site_pkg_dir` names it.
pub fn router<S: Clone + Send + Sync + 'static>(pkg_dir: &Path, build_path: &str) -> Router<S> {
    Router::new()
        .nest_service(build_path, files(pkg_dir, IMMUTABLE))
        .nest_service("/pkg", files(pkg_dir, SHORT))
}

fn files(
    pkg_dir: &Path,
    cache: &'static str,
) -> tower::util::BoxCloneSyncService<
    axum::extract::Request,
    axum::response::Response,
    std::convert::Infallible,
> {
    // Only found files are cacheable: a 404 must not stick for a year.
    let found = move |res: &Response<_>| {
        res.status()
            .is_success()
            .then(|| HeaderValue::from_static(cache))
    };
    let service = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            found,
        ))
        .service(
            ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        );
    tower::util::BoxCloneSyncService::new(
        tower::ServiceExt::<axum::extract::Request>::map_response(
            service,
            axum::response::IntoResponse::into_response,
        ),
    )
}

/// For the outermost layer: HTML that set no caching of its own is
/// revalidated on each load.
pub fn html_cache_control(res: &Response<Body>) -> Option<HeaderValue> {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"))
        .then(|| HeaderValue::from_static(HTML))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_follows_the_bundles_contents() {
        let dir = std::env::temp_dir().join(format!("tv-assets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in BUNDLE_FILES {
            std::fs::write(dir.join(name), name).unwrap();
        }
        let first = build_id(&dir);
        assert_eq!(first.len(), 16);
        assert_eq!(build_id(&dir), first, "same files, same build");
        std::fs::write(dir.join("truevault_bg.wasm"), "another build").unwrap();
        assert_ne!(build_id(&dir), first);
        // Other files (icons) are not part of it.
        std::fs::write(dir.join("icons.svg"), "icons").unwrap();
        let second = build_id(&dir);
        std::fs::write(dir.join("icons.svg"), "new icons").unwrap();
        assert_eq!(build_id(&dir), second);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
