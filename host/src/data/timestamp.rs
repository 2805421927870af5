//! Fast parsing of the timestamps found in the data files, to milliseconds since the epoch.
//!
//! Three layouts occur (see `../shared/data/SOURCES.md`): ISO 8601 UTC with `Z`
//! (`2013-10-07T13:30:00.007Z`), the BTC-PERP source's `2021-12-31 23:01:00.000000` (UTC, no
//! zone), and daily `2013-10-07`. A hand-written parser over bytes keeps replay at millions of
//! rows per second; chrono would allocate nothing either but validates far more than needed.

/// Milliseconds since the Unix epoch for one of the layouts above; `None` if malformed.
pub fn parse_timestamp_ms(s: &[u8]) -> Option<i64> {
    Some(date_ms(s)? + time_of_day_ms(&s[10..])?)
}

/// [`parse_timestamp_ms`] that remembers the last date it saw: the rows of a file share
/// their date, and its calendar arithmetic was a third of the parsing.
#[derive(Debug, Default, Clone)]
pub struct TimestampParser {
    /// The last date's text and its midnight in ms, once one parsed.
    last: Option<([u8; 10], i64)>,
}

impl TimestampParser {
    /// Like [`parse_timestamp_ms`].
    pub fn parse(&mut self, s: &[u8]) -> Option<i64> {
        let date = s.get(..10)?;
        let midnight = match self.last {
            Some((text, ms)) if text == date => ms,
            _ => {
                let ms = date_ms(s)?;
                self.last = Some((date.try_into().ok()?, ms));
                ms
            }
        };
        Some(midnight + time_of_day_ms(&s[10..])?)
    }
}

/// Midnight of the `YYYY-MM-DD` that starts `s`.
fn date_ms(s: &[u8]) -> Option<i64> {
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400_000)
}

/// What follows the date: nothing, or `Thh:mm:ss[.fff…][Z|+00:00|+0000]` (or a space for
/// the `T`), as milliseconds since midnight.
fn time_of_day_ms(rest: &[u8]) -> Option<i64> {
    if rest.is_empty() {
        return Some(0);
    }
    if let [
        b'T',
        h0,
        h1,
        b':',
        m0,
        m1,
        b':',
        s0,
        s1,
        b'.',
        f0,
        f1,
        f2,
        b'Z',
    ] = *rest
    {
        // The trade files' own layout, `Thh:mm:ss.fffZ`, digit by digit.
        let d = [h0, h1, m0, m1, s0, s1, f0, f1, f2].map(|b| i64::from(b.wrapping_sub(b'0')));
        if d.iter().all(|&x| (0..10).contains(&x)) {
            let (h, m, sec) = (d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5]);
            if h > 23 || m > 59 || sec > 60 {
                return None;
            }
            return Some((h * 3600 + m * 60 + sec) * 1000 + d[6] * 100 + d[7] * 10 + d[8]);
        }
        return None;
    }
    if rest.len() < 9 || !matches!(rest[0], b'T' | b' ') || rest[3] != b':' || rest[6] != b':' {
        return None;
    }
    let (h, m, sec) = (
        digits(&rest[1..3])?,
        digits(&rest[4..6])?,
        digits(&rest[7..9])?,
    );
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut ms = (h * 3600 + m * 60 + sec) * 1000;
    let mut tail = &rest[9..];
    if let Some(frac) = tail.strip_prefix(b".") {
        let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Milliseconds: the first three digits, padded; finer digits are truncated.
        let mut milli = 0;
        for i in 0..3 {
            milli = milli * 10
                + frac
                    .get(i)
                    .filter(|_| i < n)
                    .map_or(0, |b| i64::from(b - b'0'));
        }
        ms += milli;
        tail = &frac[n..];
    }
    match tail {
        b"" | b"Z" | b"+00:00" | b"+0000" => Some(ms),
        _ => None,
    }
}

fn digits(s: &[u8]) -> Option<i64> {
    s.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_table() {
        let table: [(&str, Option<i64>); 14] = [
            ("1970-01-01", Some(0)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2013-10-07T13:30:00.007Z", Some(1_381_152_600_007)),
            ("2013-10-07T13:30:00Z", Some(1_381_152_600_000)),
            ("2013-10-07T13:30:00.5Z", Some(1_381_152_600_500)),
            ("2021-12-31 23:01:00.000000", Some(1_640_991_660_000)),
            ("2021-12-31 23:01:00.123999", Some(1_640_991_660_123)),
            ("2020-02-29", Some(1_582_934_400_000)),
            ("2019-02-29", None),
            ("2013-13-01", None),
            ("2013-10-07T25:00:00Z", None),
            ("2013-10-07T13:30:00.Z", None),
            ("2013-10-07T13:30:00+02:00", None),
            ("20131007", None),
        ];
        let mut memo = TimestampParser::default();
        for (text, want) in table {
            assert_eq!(parse_timestamp_ms(text.as_bytes()), want, "{text}");
            // The same with a memo, fresh and after a date that matches or not.
            assert_eq!(memo.parse(text.as_bytes()), want, "memo: {text}");
            assert_eq!(memo.parse(text.as_bytes()), want, "memo again: {text}");
        }
    }

    #[test]
    fn agrees_with_chrono_over_many_dates() {
        use chrono::{DateTime, Utc};
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..2000 {
            let ms = rng.i64(-2_000_000_000_000..4_000_000_000_000);
            let dt = DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
            let text = dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            assert_eq!(parse_timestamp_ms(text.as_bytes()), Some(ms), "{text}");
        }
        // Rows in time order, many per date, through one memo.
        let mut memo = TimestampParser::default();
        let mut ms = 1_381_132_800_464;
        for _ in 0..5000 {
            ms += rng.i64(0..40_000_000);
            let dt = DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
            let text = dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            assert_eq!(memo.parse(text.as_bytes()), Some(ms), "{text}");
        }
    }
}
