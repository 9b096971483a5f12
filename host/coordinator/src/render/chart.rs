//! Line charts as inline SVG, drawn when the report is rendered (the HTML report runs no scripts).

use super::xml::escape;
use stampede_metrics::{ValueType, format_value};
use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 30.0;

/// One line of a chart.
pub struct Series<'a> {
    /// Shown in the legend.
    pub label: &'a str,
    /// A CSS colour.
    pub color: &'a str,
    /// (x, y) with x in seconds since the start, in x order.
    pub points: Vec<(f64, f64)>,
}

/// An SVG line chart of `series` over `0..=x_max` seconds, its y axis from 0 to a round number
/// above the largest value.
pub fn line_chart(title: &str, x_max: f64, series: &[Series<'_>]) -> String {
    let y_top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let y_max = nice_ceiling(y_top);
    let x_max = x_max.max(1.0);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_of = |x: f64| LEFT + plot_w * x / x_max;
    let y_of = |y: f64| TOP + plot_h * (1.0 - y / y_max);

    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         role=\"img\" aria-label=\"{t}\" font-family=\"sans-serif\" font-size=\"11\" fill=\"#555\">\
         <title>{t}</title>\
         <text x=\"{LEFT}\" y=\"18\" font-size=\"13\" font-weight=\"600\" fill=\"#1d2330\">{t}</text>",
        t = escape(title)
    );
    for i in 0..=4 {
        let y = y_max * f64::from(i) / 4.0;
        let py = y_of(y);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#e3e6eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            compact(y)
        );
    }
    let step = x_step(x_max);
    let mut x = 0.0;
    while x <= x_max + 1e-9 {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x_of(x),
            HEIGHT - BOTTOM + 16.0,
            format_value(ValueType::Time, x * 1000.0)
        );
        x += step;
    }
    let mut legend_x = WIDTH - RIGHT;
    for s in series.iter().rev() {
        // Right-aligned legend entries: a swatch, then the label.
        legend_x -= 14.0 + 7.0 * s.label.chars().count() as f64 + 12.0;
        let _ = write!(
            out,
            "<rect x=\"{legend_x:.1}\" y=\"9\" width=\"10\" height=\"10\" fill=\"{c}\"/>\
             <text x=\"{:.1}\" y=\"18\">{}</text>",
            legend_x + 14.0,
            escape(s.label),
            c = escape(s.color)
        );
    }
    if series.iter().all(|s| s.points.is_empty()) {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no data</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    for s in series {
        let points = thin(&s.points, plot_w as usize);
        if let [(x, y)] = points[..] {
            // One point (a run of a second) draws no line: a dot then.
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"><title>{}</title></circle>",
                x_of(x),
                y_of(y),
                escape(s.color),
                escape(s.label)
            );
            continue;
        }
        if points.is_empty() {
            continue;
        }
        let points: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", x_of(x), y_of(y)))
            .collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"><title>{}</title></polyline>",
            escape(s.color),
            points.join(" "),
            escape(s.label)
        );
    }
    out.push_str("</svg>");
    out
}

/// At most about `width` points: consecutive points merged into the largest of each group (a
/// peak stays visible), at the group's last x. A day at one point per second is 86,400 points for a
/// few hundred pixels.
fn thin(points: &[(f64, f64)], width: usize) -> Vec<(f64, f64)> {
    let group = points.len().div_ceil(width.max(1)).max(1);
    points
        .chunks(group)
        .map(|c| {
            let x = c[c.len() - 1].0;
            (x, c.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max))
        })
        .collect()
}

/// The smallest of 1, 2, 4, 6, 8 times a power of ten that is >= `v` (so quarters of it are round
/// numbers too); 1 for nothing to show.
pub fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(v.log10().floor());
    let scaled = v / power;
    let nice = [1.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        .into_iter()
        .find(|n| *n >= scaled - 1e-9)
        .unwrap_or(10.0);
    nice * power
}

/// Seconds between x-axis labels: a round step that gives at most 8 of them.
fn x_step(x_max: f64) -> f64 {
    const STEPS: [f64; 14] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    ];
    STEPS
        .into_iter()
        .find(|s| x_max / s <= 8.0)
        .unwrap_or_else(|| (x_max / 8.0 / 3600.0).ceil() * 3600.0)
}

/// A short axis label: `750`, `1.5k`, `2M`, `0.25`.
fn compact(v: f64) -> String {
    let (scaled, suffix) = if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", format_value(ValueType::Default, scaled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y_axes_end_at_round_numbers() {
        let cases = [
            (0.0, 1.0),
            (f64::NAN, 1.0),
            (0.3, 0.4),
            (1.0, 1.0),
            (1.2, 2.0),
            (3.0, 4.0),
            (50.0, 60.0),
            (61.0, 80.0),
            (81.0, 100.0),
            (123_456.0, 200_000.0),
        ];
        for (v, want) in cases {
            assert!(
                (nice_ceiling(v) - want).abs() < 1e-9,
                "{v}: {}",
                nice_ceiling(v)
            );
        }
    }

    #[test]
    fn x_axes_have_at_most_eight_round_steps() {
        assert_eq!(x_step(1.0), 1.0);
        assert_eq!(x_step(10.0), 2.0);
        assert_eq!(x_step(60.0), 10.0);
        assert_eq!(x_step(3600.0), 600.0);
        assert_eq!(x_step(86_400.0), 10_800.0);
    }

    #[test]
    fn compact_labels() {
        let labels: Vec<String> = [0.0, 0.25, 750.0, 1500.0, 2_000_000.0].map(compact).into();
        assert_eq!(labels, ["0", "0.25", "750", "1.5k", "2M"]);
    }

    #[test]
    fn points_are_placed_in_the_plot_area() {
        let svg = line_chart(
            "Requests <per> second",
            10.0,
            &[Series {
                label: "http_reqs",
                color: "#1f77b4",
                points: vec![(0.0, 0.0), (10.0, 70.0)],
            }],
        );
        // y axis 0..80: x=0 at the left edge and the bottom; x=10, y=70 at the right, an eighth down.
        let bottom = TOP + (HEIGHT - TOP - BOTTOM);
        let y70 = TOP + (HEIGHT - TOP - BOTTOM) * 0.125;
        assert!(
            svg.contains(&format!(
                "points=\"{LEFT:.1},{bottom:.1} {:.1},{y70:.1}\"",
                WIDTH - RIGHT
            )),
            "{svg}"
        );
        assert!(
            svg.contains("<title>Requests &lt;per&gt; second</title>"),
            "{svg}"
        );
        assert!(
            svg.contains(">80</text>") && svg.contains(">10s</text>"),
            "{svg}"
        );
        assert!(!svg.contains("no data"));
    }

    #[test]
    fn one_point_is_a_dot_and_a_day_is_thinned_to_the_plot_keeping_peaks() {
        let one = Series {
            label: "vus",
            color: "red",
            points: vec![(1.0, 6.0)],
        };
        let svg = line_chart("VUs", 1.0, &[one]);
        assert!(
            svg.contains("<circle cx=\"704.0\" cy=\"30.0\" r=\"3\""),
            "{svg}"
        );
        assert!(
            !svg.contains("<polyline") && !svg.contains("no data"),
            "{svg}"
        );

        let day: Vec<(f64, f64)> = (1..=86_400)
            .map(|t| (f64::from(t), if t == 5_000 { 9.0 } else { 1.0 }))
            .collect();
        let thinned = thin(&day, 648);
        assert!(thinned.len() <= 648, "{}", thinned.len());
        assert_eq!(thinned.last().unwrap().0, 86_400.0);
        assert_eq!(
            thinned.iter().filter(|p| p.1 == 9.0).count(),
            1,
            "the peak survives"
        );
        assert_eq!(
            thin(&day[..10], 648),
            day[..10],
            "fewer points than pixels: all kept"
        );
    }

    #[test]
    fn an_empty_chart_says_so() {
        let svg = line_chart(
            "VUs",
            0.0,
            &[Series {
                label: "vus",
                color: "red",
                points: vec![],
            }],
        );
        assert!(svg.contains(">no data</text>"), "{svg}");
        assert!(!svg.contains("<polyline"), "{svg}");
    }
}
