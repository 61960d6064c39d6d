//! Geometry of a line chart: plot area, scales, ticks, reference bands and the (downsampled)
//! line paths, in SVG user units. The component only draws what this computes.

use crate::chart::format::number;
use crate::chart::graph::{downsample, nice_ticks, path, time_ticks, value_domain, Point, Scale};

#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    pub width: f64,
    pub height: f64,
    /// left, top, right, bottom of the plot area.
    pub plot: (f64, f64, f64, f64),
    pub x: Scale,
    pub y: Scale,
    pub x_ticks: Vec<(f64, String)>,
    pub y_ticks: Vec<(f64, String)>,
    /// Reference bands as pixel (top, height).
    pub bands: Vec<(f64, f64)>,
    pub lines: Vec<(&'static str, String)>,
    /// How many points the lines draw (after downsampling) and the data had.
    pub drawn: usize,
    pub total: usize,
}

pub const MARGIN: (f64, f64, f64, f64) = (44.0, 10.0, 12.0, 24.0);

/// `None` when there is nothing to draw.
pub fn line_chart(
    series: &[(&'static str, Vec<Point>)],
    bands: &[(f64, f64)],
    ceiling: Option<f64>,
    width: f64,
    height: f64,
    buckets: usize,
) -> Option<LineChart> {
    let all: Vec<Point> = series.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    if all.is_empty() {
        return None;
    }
    let t0 = all.iter().map(|p| p.t).min()?;
    let t1 = all.iter().map(|p| p.t).max()?;
    let (t0, t1) = if t0 == t1 {
        (t0 - 43_200_000, t1 + 43_200_000)
    } else {
        (t0, t1)
    };
    let band_lo = bands.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
    let band_hi = bands.iter().map(|b| b.1).fold(f64::NEG_INFINITY, f64::max);
    let (v0, mut v1) = value_domain(&all, (!bands.is_empty()).then_some((band_lo, band_hi)));
    // A percentage's axis stops at 100 % (unless a reading, wrongly, lies above).
    if let Some(c) = ceiling.filter(|c| all.iter().all(|p| p.v <= *c)) {
        v1 = v1.min(c);
    }
    let (l, t, r, b) = MARGIN;
    let plot = (l, t, width - r, height - b);
    let x = Scale {
        d0: t0 as f64,
        d1: t1 as f64,
        r0: plot.0,
        r1: plot.2,
    };
    let y = Scale {
        d0: v0,
        d1: v1,
        r0: plot.3,
        r1: plot.1,
    };
    let x_ticks = time_ticks(t0, t1, ((width - l - r) / 70.0) as usize)
        .into_iter()
        .map(|(t, label)| (x.map(t as f64), label))
        .collect();
    let y_ticks = nice_ticks(v0, v1, ((height - t - b) / 35.0).max(2.0) as usize)
        .into_iter()
        .filter(|v| *v >= v0 && *v <= v1)
        .map(|v| (y.map(v), number(v, 2)))
        .collect();
    let bands = bands
        .iter()
        .map(|(lo, hi)| {
            let top = y.map(hi.min(v1));
            (top, (y.map(lo.max(v0)) - top).max(0.0))
        })
        .collect();
    let mut drawn = 0;
    let lines = series
        .iter()
        .map(|(name, pts)| {
            let d = downsample(pts, buckets);
            drawn += d.len();
            (*name, path(&d, &x, &y))
        })
        .collect();
    Some(LineChart {
        width,
        height,
        plot,
        x,
        y,
        x_ticks,
        y_ticks,
        bands,
        lines,
        drawn,
        total: all.len(),
    })
}

/// A sparkline's path in a `width` × `height` box.
pub fn sparkline(points: &[Point], width: f64, height: f64) -> String {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return String::new();
    };
    let (t0, t1) = (first.t, last.t);
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.v), b.max(p.v))
        });
    let x = Scale {
        d0: t0 as f64,
        d1: t1 as f64,
        r0: 2.0,
        r1: width - 2.0,
    };
    let y = Scale {
        d0: lo,
        d1: hi,
        r0: height - 2.0,
        r1: 2.0,
    };
    path(&downsample(points, 30), &x, &y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::time::parse_ms;

    #[test]
    fn lays_out_a_chart() {
        let t = |s: &str| parse_ms(s).unwrap();
        let s = vec![(
            "Heart rate",
            vec![
                Point {
                    t: t("2022-01-01"),
                    v: 70.0,
                },
                Point {
                    t: t("2024-01-01"),
                    v: 110.0,
                },
            ],
        )];
        let c = line_chart(&s, &[(60.0, 100.0)], None, 600.0, 200.0, 100).unwrap();
        assert_eq!(c.total, 2);
        assert!(c.lines[0].1.starts_with("M44,"));
        assert!(c.x_ticks.iter().any(|(_, l)| l == "2023"));
        assert!(!c.y_ticks.is_empty());
        let (top, h) = c.bands[0];
        assert!(top > c.plot.1 && h > 0.0 && top + h < c.plot.3);
        assert!(line_chart(&[("x", vec![])], &[], None, 600.0, 200.0, 100).is_none());
        let one = line_chart(
            &[("x", vec![Point { t: 0, v: 1.0 }])],
            &[],
            None,
            600.0,
            200.0,
            100,
        )
        .unwrap();
        assert!(one.lines[0].1.starts_with('M'));
        // SpO2: the axis stops at 100 %, its ticks too.
        let spo2 = [(
            "SpO2",
            vec![Point { t: 0, v: 97.0 }, Point { t: 1, v: 100.0 }],
        )];
        let c = line_chart(&spo2, &[(95.0, 100.0)], Some(100.0), 600.0, 200.0, 100).unwrap();
        assert_eq!(c.y.d1, 100.0);
        assert!(c
            .y_ticks
            .iter()
            .all(|(_, l)| l.parse::<f64>().unwrap() <= 100.0));
        let c = line_chart(&spo2, &[(95.0, 100.0)], None, 600.0, 200.0, 100).unwrap();
        assert!(c.y.d1 > 100.0, "without the ceiling the axis is padded");
        assert_eq!(sparkline(&s[0].1, 100.0, 20.0), "M2,18L98,2");
    }

    #[test]
    fn ten_thousand_points_draw_bounded() {
        let pts: Vec<Point> = (0..10_000)
            .map(|i| Point {
                t: i * 3_600_000,
                v: 70.0 + (i % 13) as f64,
            })
            .collect();
        let c = line_chart(&[("HR", pts)], &[(60.0, 100.0)], None, 640.0, 220.0, 150).unwrap();
        assert_eq!(c.total, 10_000);
        assert!(c.drawn <= 600, "{}", c.drawn);
    }
}
