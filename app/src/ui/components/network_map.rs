//! A server-rendered picture of the home network: the router in the middle,
//! the other devices grouped by type on a ring around it.

use crate::inventory::model::{type_icon, type_label, DeviceType, LanDevice};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The router is the device typed as one, else the lowest `.1`-looking address.
fn router_index(devices: &[LanDevice]) -> Option<usize> {
    devices
        .iter()
        .position(|d| d.device_type == DeviceType::Router)
        .or_else(|| devices.iter().position(|d| d.ip.ends_with(".1")))
}

pub fn network_map_svg(devices: &[LanDevice]) -> String {
    let (w, h) = (640.0_f64, 420.0_f64);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let router = router_index(devices);
    let mut others: Vec<&LanDevice> = devices
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != router)
        .map(|(_, d)| d)
        .collect();
    // Grouped by type, so a kind of device sits together on the ring.
    others.sort_by(|a, b| (a.device_type.as_str(), &a.ip).cmp(&(b.device_type.as_str(), &b.ip)));
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" class=\"network-map\" role=\"img\" aria-label=\"Home network map\">"
    );
    let n = others.len().max(1) as f64;
    let radius = if others.len() > 24 { 175.0 } else { 150.0 };
    let mut nodes = String::new();
    for (i, d) in others.iter().enumerate() {
        let angle = std::f64::consts::TAU * i as f64 / n - std::f64::consts::FRAC_PI_2;
        // Alternate two rings when crowded so labels do not collide.
        let r = if others.len() > 24 && i % 2 == 1 {
            radius - 55.0
        } else {
            radius
        };
        let (x, y) = (cx + r * angle.cos(), cy + r * angle.sin());
        svg.push_str(&format!(
            "<line x1=\"{cx}\" y1=\"{cy}\" x2=\"{x:.1}\" y2=\"{y:.1}\" class=\"link{}\"/>",
            if d.online { "" } else { " offline" }
        ));
        nodes.push_str(&node(d, x, y, false));
    }
    svg.push_str(&nodes);
    match router.map(|i| &devices[i]) {
        Some(r) => svg.push_str(&node(r, cx, cy, true)),
        None => svg.push_str(&format!(
            "<g class=\"node router\"><circle cx=\"{cx}\" cy=\"{cy}\" r=\"26\"/><use href=\"/pkg/icons.svg#{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"24\" height=\"24\" class=\"icon\"/><text x=\"{cx}\" y=\"{:.1}\" class=\"label\">Router</text></g>",
            type_icon(DeviceType::Router),
            cx - 12.0,
            cy - 12.0,
            cy + 44.0
        )),
    }
    svg.push_str("</svg>");
    svg
}

fn node(d: &LanDevice, x: f64, y: f64, router: bool) -> String {
    let r = if router { 26.0 } else { 18.0 };
    let mut name = d.display_name();
    if name.chars().count() > 18 {
        name = name.chars().take(17).collect::<String>() + "…";
    }
    format!(
        "<g class=\"node {kind}{off}\"><title>{title}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\"/>\
         <use href=\"/pkg/icons.svg#{icon}\" x=\"{ix:.1}\" y=\"{iy:.1}\" width=\"{isz:.1}\" height=\"{isz:.1}\" class=\"icon\"/><text x=\"{x:.1}\" y=\"{ly:.1}\" class=\"label\">{name}</text></g>",
        kind = d.device_type.as_str(),
        off = if d.online { "" } else { " offline" },
        title = esc(&format!(
            "{} — {} — {} {}",
            d.display_name(),
            type_label(d.device_type),
            d.ip,
            if d.online { "online" } else { "offline" }
        )),
        icon = type_icon(d.device_type),
        isz = r * 1.1,
        ix = x - r * 0.55,
        iy = y - r * 0.55,
        ly = y + r + 14.0,
        name = esc(&name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(ip: &str, t: DeviceType, host: &str) -> LanDevice {
        LanDevice {
            id: 1,
            mac: "44:19:b6:00:00:01".into(),
            ip: ip.into(),
            label: None,
            hostname: Some(host.into()),
            vendor: None,
            model: None,
            randomized_mac: false,
            device_type: t,
            is_camera: t == DeviceType::Camera,
            stream_url: None,
            services: vec![],
            open_ports: vec![],
            online: true,
            first_seen: 0,
            last_seen: 0,
        }
    }

    #[test]
    fn the_router_sits_in_the_middle_and_names_are_escaped() {
        let svg = network_map_svg(&[
            dev("192.168.1.20", DeviceType::Camera, "<script>cam"),
            dev("192.168.1.1", DeviceType::Router, "gw"),
        ]);
        assert!(svg.contains("class=\"node router\"><title>gw"));
        assert!(svg.contains("cx=\"320.0\" cy=\"210.0\" r=\"26\""));
        assert!(svg.contains("&lt;script&gt;cam"));
        assert!(!svg.contains("<script>"));
        assert_eq!(svg.matches("<line").count(), 1);
    }
}
