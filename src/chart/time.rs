//! FHIR `date`/`dateTime`/`instant` to epoch milliseconds and back, ages, without a date library
//! (days from civil dates after Howard Hinnant's algorithms).

pub const DAY_MS: i64 = 86_400_000;

pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn num<T: std::str::FromStr>(s: &str, len: usize) -> Option<T> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// Epoch ms of the start of a FHIR date or dateTime (partial dates start at their first day;
/// a time without zone is read as UTC). `None` for anything malformed.
pub fn parse_ms(s: &str) -> Option<i64> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let y: i64 = num(parts.next()?, 4)?;
    let m: u32 = parts.next().map(|p| num(p, 2)).unwrap_or(Some(1))?;
    let d: u32 = parts.next().map(|p| num(p, 2)).unwrap_or(Some(1))?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * DAY_MS;
    if let Some(t) = time {
        let (clock, offset_min) = if let Some(c) = t.strip_suffix('Z') {
            (c, 0)
        } else if let Some(pos) = t.rfind(['+', '-']) {
            let (c, off) = t.split_at(pos);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (h, mi) = off[1..].split_once(':')?;
            (c, sign * (num::<i64>(h, 2)? * 60 + num::<i64>(mi, 2)?))
        } else {
            (t, 0)
        };
        let mut c = clock.split(':');
        let h: i64 = num(c.next()?, 2)?;
        let mi: i64 = num(c.next()?, 2)?;
        let sec: f64 = c.next().map(|s| s.parse().ok()).unwrap_or(Some(0.0))?;
        if h > 23 || mi > 59 || !(0.0..61.0).contains(&sec) {
            return None;
        }
        ms += (h * 3600 + mi * 60 - offset_min * 60) * 1000 + (sec * 1000.0) as i64;
    }
    Some(ms)
}

/// `YYYY-MM-DD` (UTC).
pub fn date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM` (UTC).
pub fn date_time(ms: i64) -> String {
    let rem = ms.rem_euclid(DAY_MS) / 60_000;
    format!("{} {:02}:{:02}", date(ms), rem / 60, rem % 60)
}

/// Age on `now_ms` of someone born on `birth` (a FHIR date): "47 y", "8 mo", "12 d".
pub fn age(birth: &str, now_ms: i64) -> Option<String> {
    let b = parse_ms(birth)?;
    let (by, bm, bd) = civil_from_days(b.div_euclid(DAY_MS));
    let (ny, nm, nd) = civil_from_days(now_ms.div_euclid(DAY_MS));
    if now_ms < b {
        return None;
    }
    let mut months = (ny - by) * 12 + nm as i64 - bm as i64;
    if nd < bd {
        months -= 1;
    }
    Some(if months >= 24 {
        format!("{} y", months / 12)
    } else if months >= 1 {
        format!("{months} mo")
    } else {
        format!("{} d", (now_ms - b) / DAY_MS)
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
    }
}
