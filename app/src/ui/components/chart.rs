//! A small server-rendered SVG bar chart (no script, no inline style).

use crate::vpn::model::{format_bytes, UsageDay};

/// Daily received/sent bars for the given days (oldest first).
pub fn usage_svg(days: &[UsageDay]) -> String {
    let (w, h, pad) = (420.0_f64, 140.0_f64, 20.0_f64);
    let max = days
        .iter()
        .map(|d| d.rx_bytes.max(d.tx_bytes))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = days.len().max(1) as f64;
    let slot = (w - 2.0 * pad) / n;
    let bar = (slot / 2.0 - 2.0).max(1.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" class=\"usage-chart\" role=\"img\" aria-label=\"Daily traffic\">"
    );
    svg.push_str(&format!(
        "<line x1=\"{pad}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" class=\"axis\"/>",
        y = h - pad,
        x2 = w - pad
    ));
    for (i, d) in days.iter().enumerate() {
        let x = pad + i as f64 * slot;
        for (j, (v, class)) in [(d.rx_bytes, "rx"), (d.tx_bytes, "tx")]
            .into_iter()
            .enumerate()
        {
            let bh = (v as f64 / max) * (h - 2.0 * pad);
            svg.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" class=\"{class}\"><title>{}: {}</title></rect>",
                x + j as f64 * (bar + 2.0),
                h - pad - bh,
                if class == "rx" { "sent by device" } else { "received by device" },
                format_bytes(v)
            ));
        }
    }
    svg.push_str(&format!(
        "<text x=\"{pad}\" y=\"12\" class=\"label\">max {}</text></svg>",
        format_bytes(max as i64)
    ));
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_two_bars_per_day() {
        let days = vec![
            UsageDay {
                day: 1,
                rx_bytes: 100,
                tx_bytes: 50,
                connected_seconds: 0,
            },
            UsageDay {
                day: 2,
                rx_bytes: 0,
                tx_bytes: 200,
                connected_seconds: 0,
            },
        ];
        let svg = usage_svg(&days);
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains("max 200 B"));
        assert!(usage_svg(&[]).starts_with("<svg"));
    }
}
