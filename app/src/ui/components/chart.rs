//! A small server-rendered SVG bar chart (no script, no inline style) that
//! explains itself: a title with the device's name, a y axis with units, a
//! date under every other day, and a legend.

use crate::ui::components::notice::format_day;
use crate::vpn::model::{format_bytes, UsageDay};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round top for the y axis (1, 2 or 5 times a power of 1024 or 10), so
/// the gridlines read as plain numbers.
fn nice_max(max: i64) -> i64 {
    let max = max.max(1);
    let mut unit = 1_i64;
    while unit * 1024 <= max {
        unit *= 1024;
    }
    let mut step = unit;
    loop {
        for m in [1, 2, 5] {
            if step * m >= max {
                return step * m;
            }
        }
        step *= 10;
    }
}

/// Daily bars of what `device` sent and received over the 14 days ending
/// on `today` (days since the epoch); days without traffic show as empty.
pub fn usage_svg(device: &str, days: &[UsageDay], today: i64) -> String {
    const N: i64 = 14;
    let (w, h) = (640.0_f64, 260.0_f64);
    let (left, right, top, bottom) = (64.0_f64, 12.0_f64, 44.0_f64, 36.0_f64);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let first = today - (N - 1);
    let series: Vec<(i64, i64, i64)> = (first..=today)
        .map(|day| {
            days.iter()
                .find(|d| d.day == day)
                .map(|d| (day, d.rx_bytes, d.tx_bytes))
                .unwrap_or((day, 0, 0))
        })
        .collect();
    let top_value = nice_max(series.iter().map(|(_, s, r)| *s.max(r)).max().unwrap_or(0));
    let title = format!("{device}: data sent and received per day");
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" class=\"usage-chart\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = esc(&title)
    );
    // Legend, top left.
    svg.push_str(&format!(
        "<rect x=\"{left}\" y=\"10\" width=\"12\" height=\"12\" class=\"rx\"/><text x=\"{:.0}\" y=\"20\" class=\"label\">sent by {d}</text>\
         <rect x=\"{:.0}\" y=\"10\" width=\"12\" height=\"12\" class=\"tx\"/><text x=\"{:.0}\" y=\"20\" class=\"label\">received</text>",
        left + 16.0,
        left + 200.0,
        left + 216.0,
        d = esc(&truncate(device, 24)),
    ));
    // Y axis: gridlines at 0, half and the top, labelled with units.
    for (frac, value) in [(0.0, 0), (0.5, top_value / 2), (1.0, top_value)] {
        let y = top + plot_h * (1.0 - frac);
        svg.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" class=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"label y\">{}</text>",
            w - right,
            if frac == 0.0 { "axis" } else { "grid" },
            left - 6.0,
            y + 4.0,
            format_bytes(value)
        ));
    }
    let slot = plot_w / N as f64;
    let bar = (slot / 2.0 - 2.0).max(1.0);
    for (i, (day, sent, received)) in series.iter().enumerate() {
        let x = left + i as f64 * slot + 2.0;
        let date = format_day(day * 86_400, today * 86_400, 0);
        for (j, (v, class, what)) in [(*sent, "rx", "sent"), (*received, "tx", "received")]
            .into_iter()
            .enumerate()
        {
            let bh = (v as f64 / top_value as f64) * plot_h;
            svg.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" class=\"{class}\"><title>{date}: {what} {}</title></rect>",
                x + j as f64 * (bar + 1.0),
                top + plot_h - bh,
                format_bytes(v)
            ));
        }
        // A date under every other day, always including today.
        if (N - 1 - i as i64) % 2 == 0 {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"label x\">{date}</text>",
                x + bar,
                h - bottom + 16.0
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourteen_days_with_axes_dates_units_and_a_legend() {
        // Day 19_675 is 2023-11-14.
        let today = 19_675;
        let days = vec![
            UsageDay {
                day: today - 1,
                rx_bytes: 100,
                tx_bytes: 50,
                connected_seconds: 0,
            },
            UsageDay {
                day: today,
                rx_bytes: 0,
                tx_bytes: 3000,
                connected_seconds: 0,
            },
        ];
        let svg = usage_svg("Ada's <phone>", &days, today);
        // Two legend swatches and two bars for each of 14 days.
        assert_eq!(svg.matches("<rect").count(), 2 + 28);
        assert!(svg.contains("sent by Ada's &lt;phone&gt;"));
        assert!(svg.contains(">received</text>"));
        assert!(svg.contains("14 Nov: received 2.9 KiB"));
        assert!(svg.contains(">14 Nov</text>") && svg.contains(">2 Nov</text>"));
        // The top of the axis is a round figure with its unit.
        assert!(svg.contains(">5.0 KiB</text>"), "{svg}");
        assert!(svg.contains(">0 B</text>"));
        assert!(usage_svg("x", &[], today).starts_with("<svg"));
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(3), 5);
        assert_eq!(nice_max(1000), 1000);
        assert_eq!(nice_max(3000), 5 * 1024);
        assert_eq!(nice_max(1_500_000), 2 * 1024 * 1024);
    }
}
