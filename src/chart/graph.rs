//! The SVG line graphs' maths (graphs, so that they are not taken for the patient's chart): scales, "nice" value ticks, dated time ticks,
//! downsampling that keeps extremes, path data and nearest-point lookup.

use crate::chart::format::number;
use crate::chart::time::{civil_from_days, days_from_civil, DAY_MS};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Epoch milliseconds.
    pub t: i64,
    pub v: f64,
}

/// A linear map from a domain to a range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Scale {
    pub fn map(&self, x: f64) -> f64 {
        if self.d1 == self.d0 {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (x - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }

    pub fn invert(&self, y: f64) -> f64 {
        if self.r1 == self.r0 {
            return self.d0;
        }
        self.d0 + (y - self.r0) / (self.r1 - self.r0) * (self.d1 - self.d0)
    }
}

/// Tick values at 1, 2 or 5 × 10^k covering `[min, max]`, about `count` of them.
pub fn nice_ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    if !min.is_finite() || !max.is_finite() || count == 0 {
        return Vec::new();
    }
    let (min, max) = if max - min < 1e-9 {
        (min - 1.0, max + 1.0)
    } else {
        (min, max)
    };
    let raw = (max - min) / count as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (min / step).ceil() * step;
    let mut out = Vec::new();
    let mut v = first;
    while v <= max + step * 1e-9 && out.len() < 50 {
        out.push((v / step).round() * step);
        v += step;
    }
    out
}

/// `[min, max]` widened to the enclosing nice ticks (and to `band`, if any), with headroom.
pub fn value_domain(points: &[Point], band: Option<(f64, f64)>) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in points {
        lo = lo.min(p.v);
        hi = hi.max(p.v);
    }
    if let Some((a, b)) = band {
        lo = lo.min(a);
        hi = hi.max(b);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(0.5);
    (lo - pad, hi + pad)
}

fn month_index(ms: i64) -> i64 {
    let (y, m, _) = civil_from_days(ms.div_euclid(DAY_MS));
    y * 12 + m as i64 - 1
}

fn month_start(index: i64) -> i64 {
    days_from_civil(index.div_euclid(12), (index.rem_euclid(12) + 1) as u32, 1) * DAY_MS
}

/// `m` 0–11 → "Jan"–"Dec".
fn month_name(m: i64) -> &'static str {
    usize::try_from(m)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("")
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Dated ticks for `[t0, t1]`: years, quarters, months or days, at most about `max` of them, at
/// local midnights (one offset for the axis: a daylight-saving hour does not move a date tick).
pub fn time_ticks(t0: i64, t1: i64, max: usize) -> Vec<(i64, String)> {
    let off = crate::chart::time::offset_at(t0);
    utc_ticks(t0 + off, t1 + off, max)
        .into_iter()
        .map(|(t, label)| (t - off, label))
        .collect()
}

fn utc_ticks(t0: i64, t1: i64, max: usize) -> Vec<(i64, String)> {
    let max = max.max(2) as i64;
    let span_days = (t1 - t0).max(DAY_MS) / DAY_MS;
    let (m0, m1) = (month_index(t0), month_index(t1));
    let months = m1 - m0 + 1;
    let mut out = Vec::new();
    if months > 3 {
        let step = [1, 3, 6, 12, 24, 60, 120]
            .into_iter()
            .find(|s| months / s <= max)
            .unwrap_or(240);
        let mut i = (m0 / step + 1) * step;
        if month_start(m0) >= t0 && m0 % step == 0 {
            i = m0;
        }
        while i <= m1 {
            let t = month_start(i);
            if t >= t0 && t <= t1 {
                let label = if step >= 12 || i.rem_euclid(12) == 0 {
                    format!("{}", i.div_euclid(12))
                } else {
                    format!("{} {}", month_name(i.rem_euclid(12)), i.div_euclid(12))
                };
                out.push((t, label));
            }
            i += step;
        }
    } else {
        let step = [1, 2, 7, 14]
            .into_iter()
            .find(|s| span_days / s <= max)
            .unwrap_or(30);
        let mut d = t0.div_euclid(DAY_MS) + 1;
        while d * DAY_MS <= t1 {
            if d % step == 0 || step == 1 {
                let (y, m, day) = civil_from_days(d);
                let _ = y;
                out.push((
                    d * DAY_MS,
                    format!("{day} {}", month_name(i64::from(m) - 1)),
                ));
            }
            d += 1;
        }
    }
    out
}

/// At most about `4 * buckets` points: per time bucket the first, lowest, highest and last, so
/// spikes survive (the M4 idea). Points must be sorted by time.
pub fn downsample(points: &[Point], buckets: usize) -> Vec<Point> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    if points.len() <= buckets * 4 || buckets == 0 {
        return points.to_vec();
    }
    let t0 = first.t;
    let width = ((last.t - t0) as f64 / buckets as f64).max(1.0);
    let bucket = |p: &Point| ((p.t - t0) as f64 / width).floor() as i64;
    let mut out = Vec::with_capacity(buckets * 4);
    for slice in points.chunk_by(|a, b| bucket(a) == bucket(b)) {
        let Some(start) = slice.first() else { continue };
        // The first lowest and the first highest, as a plain scan finds them.
        let (mut lo, mut hi) = ((0, start.v), (0, start.v));
        for (i, p) in slice.iter().enumerate() {
            if p.v < lo.1 {
                lo = (i, p.v);
            }
            if p.v > hi.1 {
                hi = (i, p.v);
            }
        }
        let mut idx = vec![0, lo.0, hi.0, slice.len().saturating_sub(1)];
        idx.sort_unstable();
        idx.dedup();
        out.extend(idx.into_iter().filter_map(|i| slice.get(i).copied()));
    }
    out
}

/// SVG path data through the points.
pub fn path(points: &[Point], x: &Scale, y: &Scale) -> String {
    let mut d = String::with_capacity(points.len() * 14);
    for (i, p) in points.iter().enumerate() {
        d.push(if i == 0 { 'M' } else { 'L' });
        d.push_str(&number(x.map(p.t as f64), 1));
        d.push(',');
        d.push_str(&number(y.map(p.v), 1));
    }
    d
}

/// Index of the point closest in time to `t` (points sorted by time).
pub fn nearest(points: &[Point], t: i64) -> Option<usize> {
    let i = points.partition_point(|p| p.t < t);
    let before = i.checked_sub(1).and_then(|j| points.get(j));
    match (before, points.get(i)) {
        (Some(a), Some(b)) => Some(if t - a.t <= b.t - t { i - 1 } else { i }),
        (Some(_), None) => Some(i - 1),
        (None, Some(_)) => Some(0),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::time::parse_ms;

    #[test]
    fn scales_and_ticks() {
        let s = Scale {
            d0: 0.0,
            d1: 10.0,
            r0: 100.0,
            r1: 0.0,
        };
        assert_eq!(s.map(5.0), 50.0);
        assert_eq!(s.invert(25.0), 7.5);
        assert_eq!(
            nice_ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(nice_ticks(36.2, 37.9, 4), vec![36.5, 37.0, 37.5]);
        assert_eq!(
            nice_ticks(72.0, 72.0, 4),
            vec![71.0, 71.5, 72.0, 72.5, 73.0]
        );
        assert!(nice_ticks(f64::NAN, 1.0, 4).is_empty());
        let (lo, hi) = value_domain(
            &[Point { t: 0, v: 70.0 }, Point { t: 1, v: 90.0 }],
            Some((60.0, 100.0)),
        );
        assert!(lo < 60.0 && hi > 100.0);
    }

    #[test]
    fn dated_ticks() {
        let t0 = parse_ms("2021-03-15").unwrap();
        let t1 = parse_ms("2026-05-20").unwrap();
        let years: Vec<String> = time_ticks(t0, t1, 8).into_iter().map(|(_, l)| l).collect();
        assert_eq!(years, ["2022", "2023", "2024", "2025", "2026"]);
        let t1 = parse_ms("2021-09-01").unwrap();
        let months: Vec<String> = time_ticks(t0, t1, 8).into_iter().map(|(_, l)| l).collect();
        assert_eq!(
            months,
            ["Apr 2021", "May 2021", "Jun 2021", "Jul 2021", "Aug 2021", "Sep 2021"]
        );
        let t1 = parse_ms("2021-03-20").unwrap();
        assert_eq!(
            time_ticks(t0, t1, 8).first().map(|(_, l)| l.as_str()),
            Some("16 Mar")
        );
    }

    #[test]
    fn downsampling_keeps_extremes_and_bounds_size() {
        let pts: Vec<Point> = (0..10_000)
            .map(|i| Point {
                t: i * 1000,
                v: if i == 5000 { 500.0 } else { (i % 7) as f64 },
            })
            .collect();
        let d = downsample(&pts, 100);
        assert!(d.len() <= 400, "{}", d.len());
        assert!(d.iter().any(|p| p.v == 500.0), "the spike survives");
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert!(d.windows(2).all(|w| w[0].t <= w[1].t));
        assert_eq!(downsample(&pts[..10], 100).len(), 10);
    }

    #[test]
    fn paths_and_nearest() {
        let pts = [
            Point { t: 0, v: 0.0 },
            Point { t: 10, v: 10.0 },
            Point { t: 20, v: 5.0 },
        ];
        let x = Scale {
            d0: 0.0,
            d1: 20.0,
            r0: 0.0,
            r1: 200.0,
        };
        let y = Scale {
            d0: 0.0,
            d1: 10.0,
            r0: 100.0,
            r1: 0.0,
        };
        assert_eq!(path(&pts, &x, &y), "M0,100L100,0L200,50");
        assert_eq!(nearest(&pts, 4), Some(0));
        assert_eq!(nearest(&pts, 6), Some(1));
        assert_eq!(nearest(&pts, 99), Some(2));
        assert_eq!(nearest(&[], 1), None);
    }
}
