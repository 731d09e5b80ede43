//! The browser's key pair and CSR: WebCrypto makes an ECDSA P-256 key and
//! signs; [`super::der`] builds the request around it. Only the CSR goes to
//! the portal; the private key is offered to the user as a PKCS#8 PEM file
//! and never leaves the page otherwise.

use js_sys::{Array, ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, EcKeyGenParams, EcdsaParams};

use super::der;

/// A key pair made here: the private key (PKCS#8 PEM) and the CSR (PEM).
pub struct BrowserKey {
    pub private_pem: String,
    pub csr_pem: String,
}

fn bytes(v: JsValue) -> Result<Vec<u8>, String> {
    let buf: ArrayBuffer = v.dyn_into().map_err(|_| "not an ArrayBuffer".to_string())?;
    Ok(Uint8Array::new(&buf).to_vec())
}

fn js_err(e: JsValue) -> String {
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

pub async fn make(common_name: &str) -> Result<BrowserKey, String> {
    let window = web_sys::window().ok_or("no window")?;
    let subtle = window.crypto().map_err(js_err)?.subtle();
    let usages = Array::of2(&"sign".into(), &"verify".into());
    let pair = JsFuture::from(
        subtle
            .generate_key_with_object(&EcKeyGenParams::new("ECDSA", "P-256"), true, &usages)
            .map_err(js_err)?,
    )
    .await
    .map_err(js_err)?;
    let key = |name: &str| -> Result<CryptoKey, String> {
        Reflect::get(&pair, &name.into())
            .map_err(js_err)?
            .dyn_into()
            .map_err(|_| format!("no {name}"))
    };
    let (private, public) = (key("privateKey")?, key("publicKey")?);
    let spki = bytes(
        JsFuture::from(subtle.export_key("spki", &public).map_err(js_err)?)
            .await
            .map_err(js_err)?,
    )?;
    let pkcs8 = bytes(
        JsFuture::from(subtle.export_key("pkcs8", &private).map_err(js_err)?)
            .await
            .map_err(js_err)?,
    )?;
    let info = der::request_info(common_name, &spki);
    let params = EcdsaParams::new_with_str("ECDSA", "SHA-256");
    let sig = bytes(
        JsFuture::from(
            subtle
                .sign_with_object_and_u8_array(&params, &private, &info)
                .map_err(js_err)?,
        )
        .await
        .map_err(js_err)?,
    )?;
    let csr_pem = der::request_pem(&info, &sig).ok_or("unexpected signature length")?;
    Ok(BrowserKey {
        private_pem: der::pem("PRIVATE KEY", &pkcs8),
        csr_pem,
    })
}
