//! Charts drawn on the server as SVG: no chart library, no script, nothing to load. Each
//! chart has an `aria-label` with its totals and a `<title>` per bar, so a screen reader
//! (and a test) reads the figures the picture shows.
use maud::{html, Markup};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 160.0;
const AXIS: f64 = 18.0;

/// One bar: the successes stacked under the refusals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bar {
    pub ok: i64,
    pub refused: i64,
}

impl Bar {
    fn total(self) -> i64 {
        self.ok + self.refused
    }
}

/// A stacked bar chart, oldest bar on the left. `titles[i]` names bar `i` (its time);
/// `axis` are the labels under the left end, middle and right end.
pub fn stacked_bars(label: &str, bars: &[Bar], titles: &[String], axis: [&str; 3]) -> Markup {
    let peak = bars.iter().map(|bar| bar.total()).max().unwrap_or(0).max(1) as f64;
    let slot = WIDTH / bars.len().max(1) as f64;
    let plot = HEIGHT - AXIS;
    let scale = |count: i64| (count as f64 / peak) * (plot - 4.0);
    html! {
        svg.chart role="img" aria-label=(label) viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) preserveAspectRatio="none" {
            line.axis x1="0" y1=(plot) x2=(WIDTH) y2=(plot) {}
            @for (i, bar) in bars.iter().enumerate() {
                @let x = i as f64 * slot + slot * 0.1;
                @let w = (slot * 0.8).max(1.0);
                @let ok = scale(bar.ok);
                @let refused = scale(bar.refused);
                g {
                    title { (titles.get(i).map(String::as_str).unwrap_or("")) ": " (bar.ok) " / " (bar.refused) }
                    @if bar.ok > 0 {
                        rect.ok x=(fmt(x)) y=(fmt(plot - ok)) width=(fmt(w)) height=(fmt(ok)) {}
                    }
                    @if bar.refused > 0 {
                        rect.refused x=(fmt(x)) y=(fmt(plot - ok - refused)) width=(fmt(w)) height=(fmt(refused)) {}
                    }
                }
            }
            text.peak x="2" y="10" { (peak as i64) }
            text x="0" y=(HEIGHT - 4.0) { (axis[0]) }
            text x=(WIDTH / 2.0) y=(HEIGHT - 4.0) text-anchor="middle" { (axis[1]) }
            text x=(WIDTH) y=(HEIGHT - 4.0) text-anchor="end" { (axis[2]) }
        }
    }
}

/// A line of values (None: no data in that slot), oldest on the left.
pub fn line(label: &str, values: &[Option<f64>], unit: &str, axis: [&str; 3]) -> Markup {
    let peak = values
        .iter()
        .flatten()
        .fold(0.0_f64, |top, value| top.max(*value))
        .max(1.0);
    let slot = WIDTH / values.len().max(1) as f64;
    let plot = HEIGHT - AXIS;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .filter_map(|(i, value)| {
            value.map(|value| {
                let x = i as f64 * slot + slot / 2.0;
                let y = plot - (value / peak) * (plot - 4.0);
                format!("{},{}", fmt(x), fmt(y))
            })
        })
        .collect();
    html! {
        svg.chart role="img" aria-label=(label) viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) preserveAspectRatio="none" {
            line.axis x1="0" y1=(plot) x2=(WIDTH) y2=(plot) {}
            @if points.len() > 1 {
                polyline.latency points=(points.join(" ")) {}
            }
            @for point in &points {
                @let (x, y) = point.split_once(',').unwrap_or(("0", "0"));
                circle.latency cx=(x) cy=(y) r="2.5" {}
            }
            text.peak x="2" y="10" { (format!("{peak:.0} {unit}")) }
            text x="0" y=(HEIGHT - 4.0) { (axis[0]) }
            text x=(WIDTH / 2.0) y=(HEIGHT - 4.0) text-anchor="middle" { (axis[1]) }
            text x=(WIDTH) y=(HEIGHT - 4.0) text-anchor="end" { (axis[2]) }
        }
    }
}

fn fmt(value: f64) -> String {
    format!("{value:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_the_tallest_and_empty_slots_draw_nothing() {
        let bars = [
            Bar { ok: 4, refused: 0 },
            Bar::default(),
            Bar { ok: 1, refused: 1 },
        ];
        let titles = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let svg = stacked_bars("logins", &bars, &titles, ["-3", "", "now"]).into_string();
        assert_eq!(svg.matches("<rect class=\"ok\"").count(), 2);
        assert_eq!(svg.matches("<rect class=\"refused\"").count(), 1);
        // The tallest bar fills the plot (142 px of 160 - 18); the others are in proportion.
        assert!(svg.contains("height=\"138.0\""), "{svg}");
        assert!(svg.contains("height=\"34.5\""), "{svg}");
        assert!(svg.contains("<title>c: 1 / 1</title>"));
        assert!(!svg.contains("style="));
    }

    #[test]
    fn a_line_skips_slots_without_data() {
        let svg = line(
            "latency",
            &[Some(10.0), None, Some(20.0)],
            "ms",
            ["", "", ""],
        )
        .into_string();
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("20 ms"));
    }
}
