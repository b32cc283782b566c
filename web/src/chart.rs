//! Counts by finding code over time, as a small stacked bar chart in SVG: a burst of
//! refusals shows as a tall bar of one colour. Errors and warnings are counted; infos are not.
//!
//! Time is cut into equal buckets of a round width (1 s … 1 day) so that there are at most
//! [`MAX_BUCKETS`]; each bar stacks the findings of the connections that began in it, one
//! colour per code. The most frequent codes get their own colour, the rest share one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::escape::xml;

pub const MAX_BUCKETS: usize = 40;
const WIDTH: f64 = 720.0;
const PLOT_HEIGHT: f64 = 120.0;
const LEFT: f64 = 40.0;
/// Codes with a colour of their own; the others are summed as "other".
const COLOURS: [&str; 8] = [
    "#d62728", "#ff7f0e", "#1f77b4", "#9467bd", "#2ca02c", "#8c564b", "#e377c2", "#17becf",
];
const OTHER_COLOUR: &str = "#999999";
/// Round bucket widths, in seconds.
const STEPS: [f64; 13] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 10800.0, 21600.0, 43200.0, 86400.0,
];

/// The width of one bucket for connections spanning `span` seconds.
pub fn bucket_width(span: f64) -> f64 {
    STEPS
        .iter()
        .copied()
        .find(|w| span / w < MAX_BUCKETS as f64)
        .unwrap_or_else(|| (span / MAX_BUCKETS as f64).ceil().max(1.0))
}

/// The counts: per bucket, per code.
#[derive(Debug, Default)]
pub struct Counts {
    pub start: f64,
    pub width: f64,
    pub buckets: Vec<BTreeMap<String, u64>>,
    pub totals: BTreeMap<String, u64>,
}

impl Counts {
    /// From each connection's start (Unix seconds) and its findings' codes.
    pub fn of<'a>(items: impl Iterator<Item = (f64, &'a [String])> + Clone) -> Counts {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (t, _) in items.clone() {
            lo = lo.min(t);
            hi = hi.max(t);
        }
        if !lo.is_finite() {
            return Counts::default();
        }
        let width = bucket_width(hi - lo);
        let start = (lo / width).floor() * width;
        let n = (((hi - start) / width).floor() as usize + 1).min(MAX_BUCKETS * 2);
        let mut c = Counts {
            start,
            width,
            buckets: vec![BTreeMap::new(); n],
            totals: BTreeMap::new(),
        };
        for (t, codes) in items {
            let i = (((t - start) / width).floor() as usize).min(n - 1);
            for code in codes {
                *c.buckets[i].entry(code.clone()).or_default() += 1;
                *c.totals.entry(code.clone()).or_default() += 1;
            }
        }
        c
    }

    /// The codes with a colour of their own, most frequent first.
    pub fn legend(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.totals.iter().map(|(c, n)| (c.as_str(), *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }

    pub fn svg(&self) -> String {
        let legend = self.legend();
        let coloured: Vec<&str> = legend.iter().take(COLOURS.len()).map(|(c, _)| *c).collect();
        let colour = |code: &str| {
            coloured
                .iter()
                .position(|c| *c == code)
                .map_or(OTHER_COLOUR, |i| COLOURS[i])
        };
        let legend_rows = legend.len().min(COLOURS.len() + 1).div_ceil(2);
        let height = PLOT_HEIGHT + 36.0 + legend_rows as f64 * 16.0;
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">"#
        );
        if self.buckets.is_empty() || legend.is_empty() {
            s.push_str(r#"<text x="10" y="20">No findings yet.</text></svg>"#);
            return s;
        }
        let max = self
            .buckets
            .iter()
            .map(|b| b.values().sum::<u64>())
            .max()
            .unwrap_or(1)
            .max(1);
        // A few buckets are drawn as narrow bars, not as a wall.
        let slot = (WIDTH - LEFT - 10.0) / self.buckets.len().max(MAX_BUCKETS / 2) as f64;
        let bar = (slot * 0.8).max(1.0);
        let _ = write!(
            s,
            r#"<text class="axis" x="{x}" y="12" text-anchor="end">{max}</text><line class="axis" x1="{LEFT}" y1="{PLOT_HEIGHT}" x2="{r}" y2="{PLOT_HEIGHT}"/>"#,
            x = LEFT - 4.0,
            r = WIDTH - 10.0
        );
        for (i, b) in self.buckets.iter().enumerate() {
            let x = LEFT + i as f64 * slot;
            let mut y = PLOT_HEIGHT;
            // Drawn in legend order, so colours stack the same way in every bar.
            for (code, _) in &legend {
                let Some(&n) = b.get(*code) else { continue };
                let h = n as f64 / max as f64 * (PLOT_HEIGHT - 14.0);
                y -= h;
                let _ = write!(
                    s,
                    r#"<rect class="bar" data-code="{c}" data-n="{n}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{fill}"><title>{c}: {n} from {from}</title></rect>"#,
                    c = xml(code),
                    fill = colour(code),
                    from = clock(self.start + i as f64 * self.width),
                );
            }
        }
        let _ = write!(
            s,
            r#"<text class="axis" x="{LEFT}" y="{y}">{a}</text><text class="axis" x="{r}" y="{y}" text-anchor="end">{b} (bars of {w} s)</text>"#,
            y = PLOT_HEIGHT + 14.0,
            a = clock(self.start),
            r = WIDTH - 10.0,
            b = clock(self.start + self.buckets.len() as f64 * self.width),
            w = self.width,
        );
        let mut other = 0;
        let mut items: Vec<(String, &str)> = Vec::new();
        for (i, (code, n)) in legend.iter().enumerate() {
            if i < COLOURS.len() {
                items.push((format!("{code} ×{n}"), COLOURS[i]));
            } else {
                other += n;
            }
        }
        if other > 0 {
            items.push((format!("other ×{other}"), OTHER_COLOUR));
        }
        for (i, (label, fill)) in items.iter().enumerate() {
            let x = LEFT + (i % 2) as f64 * 340.0;
            let y = PLOT_HEIGHT + 30.0 + (i / 2) as f64 * 16.0;
            let _ = write!(
                s,
                r#"<g class="legend"><rect x="{x}" y="{ry}" width="10" height="10" fill="{fill}"/><text x="{tx}" y="{y}">{l}</text></g>"#,
                ry = y - 9.0,
                tx = x + 14.0,
                l = xml(label)
            );
        }
        s.push_str("</svg>");
        s
    }
}

/// `HH:MM:SS` UTC of Unix seconds.
fn clock(unix: f64) -> String {
    let t = iotscope_decoder::Timestamp((unix * 1e9) as i64).rfc3339();
    t.get(11..19).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_round_and_few() {
        assert_eq!(bucket_width(0.0), 1.0);
        assert_eq!(bucket_width(39.0), 1.0);
        assert_eq!(bucket_width(41.0), 5.0);
        assert_eq!(bucket_width(3600.0), 300.0);
        let codes = ["A".to_string()];
        let both = ["A".to_string(), "B".to_string()];
        let items = [(100.2, &codes[..]), (100.7, &both[..]), (130.0, &codes[..])];
        let c = Counts::of(items.iter().copied());
        assert_eq!(c.width, 1.0);
        assert_eq!(c.start, 100.0);
        assert_eq!(c.buckets.len(), 31);
        assert_eq!(c.buckets[0].get("A"), Some(&2));
        assert_eq!(c.buckets[0].get("B"), Some(&1));
        assert_eq!(c.buckets[30].get("A"), Some(&1));
        assert_eq!(c.legend(), [("A", 3), ("B", 1)]);
        let svg = c.svg();
        assert_eq!(svg.matches(r#"class="bar""#).count(), 3);
        assert!(svg.contains("A ×3") && svg.contains("B ×1"));
    }
}
