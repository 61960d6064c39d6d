//! FHIR `date`/`dateTime`/`instant` to epoch milliseconds and back, shown in the browser's
//! time zone, and ages. The calendar arithmetic and RFC 3339 parsing are the `time` crate's; the
//! zone's offset at each instant (daylight saving included) comes from the browser
//! ([`set_local_zone`]), so this module stays pure: natively it is UTC unless a test sets a
//! zone.

use std::cell::RefCell;

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

pub const DAY_MS: i64 = 86_400_000;
/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

type OffsetAt = Box<dyn Fn(i64) -> i64>;
type NameOf = Box<dyn Fn() -> String>;

thread_local! {
    /// The zone's name (asked for when a label first needs it) and its offset east of UTC, in
    /// ms, at an instant. UTC until set.
    static ZONE: RefCell<Option<(NameOf, OffsetAt)>> = const { RefCell::new(None) };
    static NAME: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Times are shown in this zone from now on: `name()` labels them (e.g. "Europe/Paris"; asked
/// only when a label is shown: in a browser the first `Intl` call costs tens of milliseconds),
/// `offset_ms(instant)` is its offset east of UTC at that instant.
pub fn set_local_zone(
    name: impl Fn() -> String + 'static,
    offset_ms: impl Fn(i64) -> i64 + 'static,
) {
    ZONE.with(|z| *z.borrow_mut() = Some((Box::new(name), Box::new(offset_ms))));
    NAME.with(|n| *n.borrow_mut() = None);
}

/// The zone times are shown in, for a label: its name and its offset now ("Europe/Paris,
/// UTC+01:00"), or "UTC".
pub fn zone_label(now_ms: i64) -> String {
    let off = offset_at(now_ms);
    let name = NAME.with(|cached| {
        cached
            .borrow_mut()
            .get_or_insert_with(|| {
                ZONE.with(|z| z.borrow().as_ref().map(|(n, _)| n()))
                    .unwrap_or_default()
            })
            .clone()
    });
    let name = Some(name);
    let sign = if off < 0 { '−' } else { '+' };
    let m = off.abs() / 60_000;
    match name {
        Some(n) if !n.is_empty() && n != "UTC" => {
            format!("{n}, UTC{sign}{:02}:{:02}", m / 60, m % 60)
        }
        _ if off == 0 => "UTC".into(),
        _ => format!("UTC{sign}{:02}:{:02}", m / 60, m % 60),
    }
}

/// The local zone's offset east of UTC at `ms`, in ms (0 when no zone is set).
pub fn offset_at(ms: i64) -> i64 {
    ZONE.with(|z| z.borrow().as_ref().map(|(_, f)| f(ms)).unwrap_or(0))
}

fn date_of_day(days: i64) -> Option<Date> {
    Date::from_julian_day(i32::try_from(days + UNIX_EPOCH_JULIAN_DAY).ok()?).ok()
}

/// Days since 1970-01-01 of a calendar date (`m` 1–12); 0 for a date that does not exist.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let date = i32::try_from(y).ok().and_then(|y| {
        let month = Month::try_from(u8::try_from(m).ok()?).ok()?;
        Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok()
    });
    date.map_or(0, |d| d.to_julian_day() as i64 - UNIX_EPOCH_JULIAN_DAY)
}

/// The calendar date (year, month 1–12, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    date_of_day(z).map_or((1970, 1, 1), |d| {
        (d.year() as i64, u8::from(d.month()) as u32, d.day() as u32)
    })
}

fn num<T: std::str::FromStr>(s: &str, len: usize) -> Option<T> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// Epoch ms of the start of a FHIR date or dateTime (partial dates start at their first day, in
/// UTC; a time without zone is read as UTC). `None` for anything malformed, a day that does not
/// exist (30 February) included.
pub fn parse_ms(s: &str) -> Option<i64> {
    if s.contains('T') {
        let t = OffsetDateTime::parse(s, &Rfc3339)
            .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
            .ok()?;
        return i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok();
    }
    let mut parts = s.split('-');
    let y: i64 = num(parts.next()?, 4)?;
    let m: u32 = parts.next().map(|p| num(p, 2)).unwrap_or(Some(1))?;
    let d: u32 = parts.next().map(|p| num(p, 2)).unwrap_or(Some(1))?;
    if parts.next().is_some() {
        return None;
    }
    let month = Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date = Date::from_calendar_date(y as i32, month, u8::try_from(d).ok()?).ok()?;
    Some((date.to_julian_day() as i64 - UNIX_EPOCH_JULIAN_DAY) * DAY_MS)
}

/// The local calendar day (days since 1970-01-01) of an instant.
pub fn local_day(ms: i64) -> i64 {
    (ms + offset_at(ms)).div_euclid(DAY_MS)
}

/// `YYYY-MM-DD`, the local date of an instant.
pub fn date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(local_day(ms));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM`, local.
pub fn date_time(ms: i64) -> String {
    let rem = (ms + offset_at(ms)).rem_euclid(DAY_MS) / 60_000;
    format!("{} {:02}:{:02}", date(ms), rem / 60, rem % 60)
}

/// A FHIR `date` or `dateTime` for display, and its instant for sorting: a date alone is a
/// calendar date and is shown as written (a zone must not move it to the day before); a
/// dateTime is shown as the local date.
pub fn fhir_date(s: &str) -> Option<(String, i64)> {
    let ms = parse_ms(s)?;
    Some(if s.contains('T') {
        (date(ms), ms)
    } else {
        (s.to_string(), ms)
    })
}

/// Time left, as the session panel counts it down: "1 h 05 min", "4 min 09 s", "expired".
pub fn countdown(ms: i64) -> String {
    if ms <= 0 {
        return "expired".into();
    }
    let s = ms / 1000;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s / 60) % 60)
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// Age on `now_ms` of someone born on `birth` (a FHIR date): "47 y", "8 mo", "12 d".
pub fn age(birth: &str, now_ms: i64) -> Option<String> {
    // A birth date is a calendar date; today is the local one. The local day is the UTC day
    // or one either side (zones lie within ±14 h of UTC): when all three give the same age, the
    // zone is not asked — in a browser its first use costs tens of milliseconds, on the way to
    // the patient's name in the banner.
    let born = parse_ms(birth)?.div_euclid(DAY_MS);
    let utc_day = now_ms.div_euclid(DAY_MS);
    let around = [utc_day - 1, utc_day, utc_day + 1].map(|d| age_on(born, d));
    if around.iter().all(|a| *a == around[0]) {
        return around[0].clone();
    }
    age_on(born, local_day(now_ms))
}

/// Age on the day `today` of someone born on the day `born` (days since 1970-01-01).
fn age_on(born: i64, today: i64) -> Option<String> {
    if today < born {
        return None;
    }
    let (by, bm, bd) = civil_from_days(born);
    let (ny, nm, nd) = civil_from_days(today);
    let mut months = (ny - by) * 12 + nm as i64 - bm as i64;
    if nd < bd {
        months -= 1;
    }
    Some(if months >= 24 {
        format!("{} y", months / 12)
    } else if months >= 1 {
        format!("{months} mo")
    } else {
        format!("{} d", today - born)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fhir_dates() {
        assert_eq!(parse_ms("1970-01-02"), Some(DAY_MS));
        assert_eq!(parse_ms("1970"), Some(0));
        assert_eq!(parse_ms("1970-02"), Some(31 * DAY_MS));
        assert_eq!(parse_ms("1970-01-01T01:00:00Z"), Some(3_600_000));
        assert_eq!(parse_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        for bad in [
            "",
            "19700101",
            "1970-13-01",
            "1970-01-01T25:00:00Z",
            "abcd",
            "1970-1-1",
            "2023-02-29",
            "1970-01-01T10:00Z",
        ] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_and_ages() {
        let t = parse_ms("2024-02-29T13:05:00Z").unwrap();
        assert_eq!(date(t), "2024-02-29");
        assert_eq!(date_time(t), "2024-02-29 13:05");
        let now = parse_ms("2026-06-01").unwrap();
        assert_eq!(age("1980-06-02", now).as_deref(), Some("45 y"));
        assert_eq!(age("1980-06-01", now).as_deref(), Some("46 y"));
        assert_eq!(age("2025-09-15", now).as_deref(), Some("8 mo"));
        assert_eq!(age("2026-05-20", now).as_deref(), Some("12 d"));
        assert_eq!(age("2027-01-01", now), None);
        assert_eq!(age("garbage", now), None);
        assert_eq!(parse_ms("1970-01-01T00:00:00"), Some(0), "no zone: UTC");
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    /// An age is worked out without the zone unless the local day could change it; then the
    /// zone decides.
    #[test]
    fn age_asks_the_zone_only_near_a_boundary() {
        use std::cell::Cell;
        use std::rc::Rc;
        let asked = Rc::new(Cell::new(0));
        let a = asked.clone();
        set_local_zone(String::new, move |_| {
            a.set(a.get() + 1);
            -10 * 3_600_000
        });
        let now = parse_ms("2026-06-01T05:00:00Z").unwrap();
        assert_eq!(age("1980-03-15", now).as_deref(), Some("46 y"));
        assert_eq!(asked.get(), 0, "far from the birthday: no zone");
        // Born on 1 June: in UTC it is the birthday, 10 h west it is still 31 May.
        assert_eq!(age("1980-06-01", now).as_deref(), Some("45 y"));
        assert_eq!(asked.get(), 1);
        assert_eq!(
            age("2026-05-20", now).as_deref(),
            Some("11 d"),
            "a local day"
        );
        set_local_zone(String::new, |_| 0);
    }

    /// In a zone, instants show as local time and its day; dates stay as written.
    #[test]
    fn local_zone() {
        let t = parse_ms("2024-03-01T02:30:00Z").unwrap();
        set_local_zone(|| "America/New_York".into(), |_| -5 * 3_600_000);
        assert_eq!(date_time(t), "2024-02-29 21:30");
        assert_eq!(date(t), "2024-02-29");
        assert_eq!(
            fhir_date("2024-03-01").unwrap().0,
            "2024-03-01",
            "a date is not moved"
        );
        assert_eq!(fhir_date("2024-03-01T02:30:00Z").unwrap().0, "2024-02-29");
        assert_eq!(zone_label(t), "America/New_York, UTC−05:00");
        set_local_zone(String::new, |_| 0);
        assert_eq!(zone_label(t), "UTC");
        assert_eq!(date_time(t), "2024-03-01 02:30");
    }

    #[test]
    fn countdowns() {
        assert_eq!(countdown(0), "expired");
        assert_eq!(countdown(-5), "expired");
        assert_eq!(countdown(249_999), "4 min 09 s");
        assert_eq!(countdown(3_900_000), "1 h 05 min");
        assert_eq!(countdown(59_999), "0 min 59 s");
    }
}
