//! Dates for the generated data and FHIR date search: days since 1970-01-01 <-> calendar
//! dates by the `time` crate (which also refuses days that do not exist, like 30 February).

use time::{Date, Month};

/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// Days since 1970-01-01 of a calendar date (`m` 1–12), if the date exists.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    let month = Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()?;
    Some(date.to_julian_day() as i64 - UNIX_EPOCH_JULIAN_DAY)
}

fn day(days: i64) -> Date {
    i32::try_from(days + UNIX_EPOCH_JULIAN_DAY)
        .ok()
        .and_then(|jd| Date::from_julian_day(jd).ok())
        .unwrap_or(Date::MIN)
}

/// `YYYY-MM-DD` for a day number.
pub fn date(days: i64) -> String {
    let d = day(days);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `YYYY-MM-DDThh:mm:ssZ` for seconds since the epoch.
pub fn date_time(secs: i64) -> String {
    let rem = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(secs.div_euclid(86_400)),
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Parses a FHIR date or dateTime (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mm[:ss][.fff](Z|±hh:mm)`)
/// into the half-open interval of epoch seconds it covers, as FHIR search compares ranges
/// (FHIR R4 search §3.1.1.4.2.1).
pub fn parse_range(s: &str) -> Option<(i64, i64)> {
    let (date_part, time_part) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut it = date_part.split('-');
    let y: i64 = it.next().filter(|p| p.len() == 4)?.parse().ok()?;
    let m: Option<u32> = match it.next() {
        Some(p) if p.len() == 2 => Some(p.parse().ok().filter(|m| (1..=12).contains(m))?),
        Some(_) => return None,
        None => None,
    };
    let d: Option<u32> = match it.next() {
        Some(p) if p.len() == 2 => Some(p.parse().ok().filter(|d| (1..=31).contains(d))?),
        Some(_) => return None,
        None => None,
    };
    if it.next().is_some() {
        return None;
    }
    match (m, d, time_part) {
        (None, None, None) => Some((
            days_from_civil(y, 1, 1)? * 86_400,
            days_from_civil(y + 1, 1, 1)? * 86_400,
        )),
        (Some(m), None, None) => {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Some((
                days_from_civil(y, m, 1)? * 86_400,
                days_from_civil(ny, nm, 1)? * 86_400,
            ))
        }
        (Some(m), Some(d), None) => {
            let start = days_from_civil(y, m, d)? * 86_400;
            Some((start, start + 86_400))
        }
        (Some(m), Some(d), Some(t)) => {
            let day = days_from_civil(y, m, d)? * 86_400;
            let (clock, offset) = split_offset(t)?;
            let mut parts = clock.split(':');
            let hh: i64 = parts.next()?.parse().ok()?;
            let mm: i64 = parts.next()?.parse().ok()?;
            let (ss, precise) = match parts.next() {
                Some(sec) => {
                    let whole = sec.split('.').next()?;
                    (whole.parse::<i64>().ok()?, true)
                }
                None => (0, false),
            };
            if hh > 23 || mm > 59 || ss > 60 {
                return None;
            }
            let start = day + hh * 3600 + mm * 60 + ss - offset;
            Some((start, start + if precise { 1 } else { 60 }))
        }
        _ => None,
    }
}

fn split_offset(t: &str) -> Option<(&str, i64)> {
    if let Some(clock) = t.strip_suffix('Z') {
        return Some((clock, 0));
    }
    let pos = t.rfind(['+', '-'])?;
    let (clock, off) = t.split_at(pos);
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let (h, m) = off[1..].split_once(':')?;
    let h: i64 = h.parse().ok()?;
    let m: i64 = m.parse().ok()?;
    Some((clock, sign * (h * 3600 + m * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for days in [-1000, 0, 1, 59, 365, 11_016, 20_000, 30_000] {
            let d = date(days);
            let p = |a: usize, b: usize| d[a..b].parse::<u32>().unwrap();
            assert_eq!(
                days_from_civil(p(0, 4) as i64, p(5, 7), p(8, 10)),
                Some(days)
            );
        }
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date_time(86_400 + 3661), "1970-01-02T01:01:01Z");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("1970"), Some((0, 365 * 86_400)));
        assert_eq!(parse_range("1970-02"), Some((31 * 86_400, 59 * 86_400)));
        assert_eq!(parse_range("1970-01-02"), Some((86_400, 2 * 86_400)));
        assert_eq!(parse_range("1970-01-01T01:00:00Z"), Some((3600, 3601)));
        assert_eq!(parse_range("1970-01-01T01:00:00+01:00"), Some((0, 1)));
        assert_eq!(parse_range("19701"), None);
        assert_eq!(parse_range("1970-13"), None);
        assert_eq!(parse_range("garbage"), None);
        assert_eq!(parse_range("2023-02-30"), None);
    }
}
