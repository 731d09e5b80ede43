//! QR codes of configs for the mobile apps, as SVG markup (server and browser).

use std::fmt::Write;

/// The blank margin scanners need around the code, in modules (the
/// standard's minimum).
const QUIET_ZONE: usize = 4;

/// The config as an SVG QR code, or `None` when it is too long for one.
///
/// Dark modules are drawn as one path of horizontal runs, a third of the
/// size of one square per module.
pub fn qr_svg(config: &str) -> Option<String> {
    let code = fast_qr::QRBuilder::new(config)
        .ecl(fast_qr::ECL::L)
        .build()
        .ok()?;
    let modules = code.size;
    let side = modules + 2 * QUIET_ZONE;
    let mut svg = String::with_capacity(modules * modules * 2);
    // Writing into a String cannot fail.
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" width="240" height="240" shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d=""##
    );
    for y in 0..modules {
        let row = &code[y];
        let mut x = 0;
        while x < modules {
            if !row[x].value() {
                x += 1;
                continue;
            }
            let start = x;
            while x < modules && row[x].value() {
                x += 1;
            }
            let run = x - start;
            let _ = write!(
                svg,
                "M{},{}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            );
        }
    }
    svg.push_str(r#""/></svg>"#);
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the modules back from the SVG's own path (the runs written
    /// above) and decodes them with a QR reader, so the test sees what a
    /// phone's camera would.
    fn decode(svg: &str) -> String {
        let side: usize = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .expect("viewBox");
        let path = svg
            .split(" d=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("path");
        let mut dark = vec![false; side * side];
        for run in path.split('z').filter(|r| !r.is_empty()) {
            let (xy, rest) = run[1..].split_once('h').expect("run");
            let (x, y) = xy.split_once(',').expect("x,y");
            let (x, y): (usize, usize) = (x.parse().expect("x"), y.parse().expect("y"));
            let len: usize = rest
                .split('v')
                .next()
                .and_then(|s| s.parse().ok())
                .expect("len");
            for cell in &mut dark[y * side + x..y * side + x + len] {
                *cell = true;
            }
        }
        let scale = 4;
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(side * scale, side * scale, |x, y| {
                if dark[(y / scale) * side + x / scale] {
                    0
                } else {
                    255
                }
            });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        grids[0].decode().expect("decodes").1
    }

    #[test]
    fn a_config_reads_back_from_its_qr_code() {
        // Keys made here, the lengths of real ones.
        let (device, server) = (
            crate::vpn::keys::generate_keypair(),
            crate::vpn::keys::generate_keypair(),
        );
        let config = format!(
            "[Interface]\nPrivateKey = {}\nAddress = 10.8.0.23/32, fd42:42:42::23/128\n\
             DNS = 10.8.0.1\n\n[Peer]\nPublicKey = {}\nPresharedKey = {}\n\
             AllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = vpn-1.example.test:51820\nPersistentKeepalive = 25\n",
            device.private,
            server.public,
            crate::vpn::keys::generate_preshared_key()
        );
        let svg = qr_svg(&config).expect("fits in a QR code");
        assert!(svg.starts_with("<svg"));
        assert_eq!(decode(&svg), config);
    }

    #[test]
    fn a_config_too_long_for_a_qr_code_has_none() {
        assert!(qr_svg(&"x".repeat(8000)).is_none());
    }
}
