//! QR codes of configs for the mobile apps, as SVG markup (server and browser).

pub fn qr_svg(config: &str) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(config.as_bytes(), qrcode::EcLevel::L).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
    )
}
