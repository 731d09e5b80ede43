//! The browser bundle's caching: the script, wasm and stylesheet under the
//! build's path, immutable for a year, the precompressed file chosen by
//! `Accept-Encoding`; icons and favicon short-lived; HTML revalidated.

use crate::helpers::{new_client, TestApp};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A site folder with a stand-in bundle and its precompressed copies (the
/// bytes only need to be told apart: the server does not look inside).
fn site() -> std::path::PathBuf {
    let root =
        std::env::temp_dir().join(format!("tv-test-site-{}", crate::helpers::random_suffix()));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).expect("site dir");
    for name in [
        "truevault.js",
        "truevault_bg.wasm",
        "truevault.css",
        "icons.svg",
    ] {
        std::fs::write(pkg.join(name), format!("plain {name}")).expect("file");
        std::fs::write(pkg.join(format!("{name}.br")), format!("br {name}")).expect("br");
        std::fs::write(pkg.join(format!("{name}.gz")), format!("gz {name}")).expect("gz");
    }
    root
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_string())
}

#[tokio::test]
async fn the_bundle_is_cached_for_a_year_under_its_build_and_html_is_revalidated() {
    let root = site();
    let app = TestApp::spawn_with(|c| c.site_root = root.clone()).await;
    let client = new_client();

    let page = app.get(&client, "/login").await;
    assert!(page.status().is_success());
    assert_eq!(
        header(&page, "cache-control").as_deref(),
        Some("private, no-cache")
    );
    let html = page.text().await.expect("html");
    // The page names the bundle under one build path: /pkg/<16 hex>/.
    let css = html.find("/truevault.css").expect("a stylesheet link");
    let build = &html[css - 16..css];
    assert!(html[..css - 16].ends_with("/pkg/"), "{html}");
    assert!(build.chars().all(|c| c.is_ascii_hexdigit()), "{build}");
    for name in ["truevault.js", "truevault_bg.wasm", "truevault.css"] {
        let path = format!("/pkg/{build}/{name}");
        assert!(html.contains(&path), "the page names {path}");
    }

    let fetch = |path: String, encodings: &'static str| {
        let client = client.clone();
        let url = app.url(&path);
        async move {
            client
                .get(url)
                .header("accept-encoding", encodings)
                .send()
                .await
                .expect("request")
        }
    };
    // Brotli where the browser takes it, gzip otherwise, plain last.
    for (encodings, encoding, prefix) in [
        ("br, gzip", Some("br"), "br"),
        ("gzip", Some("gzip"), "gz"),
        ("identity", None, "plain"),
    ] {
        for name in ["truevault.js", "truevault_bg.wasm", "truevault.css"] {
            let res = fetch(format!("/pkg/{build}/{name}"), encodings).await;
            assert_eq!(res.status(), 200, "{name} with {encodings}");
            assert_eq!(
                header(&res, "cache-control").as_deref(),
                Some(IMMUTABLE),
                "{name}"
            );
            assert_eq!(header(&res, "content-encoding").as_deref(), encoding);
            assert_eq!(res.text().await.expect("body"), format!("{prefix} {name}"));
        }
    }

    // Files pages name without a build stay short-lived.
    let icons = fetch("/pkg/icons.svg".into(), "br").await;
    assert_eq!(icons.status(), 200);
    assert_eq!(
        header(&icons, "cache-control").as_deref(),
        Some("public, max-age=300")
    );
    // Another build's path, or a missing file, is a 404 nobody keeps.
    for path in [
        "/pkg/0000000000000000/truevault.js".to_string(),
        format!("/pkg/{build}/missing.js"),
    ] {
        let res = fetch(path.clone(), "br").await;
        assert_eq!(res.status(), 404, "{path}");
        assert_ne!(header(&res, "cache-control").as_deref(), Some(IMMUTABLE));
    }
    std::fs::remove_dir_all(&root).ok();
}
