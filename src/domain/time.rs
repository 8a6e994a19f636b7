//! Business time: an instant in UTC and a calendar day, as plain numbers.
//!
//! Parsing and formatting live here too (RFC 3339 for instants, `YYYY-MM-DD` for days); they
//! are pure functions of text. The range is limited to years `YEAR_MIN..=YEAR_MAX`.

use crate::limits::{YEAR_MAX, YEAR_MIN};
use ::time::format_description::well_known::Rfc3339;
use ::time::{Date, OffsetDateTime};
use std::fmt;

const SECONDS_PER_DAY: i64 = 86_400;
/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;
/// The first day of `YEAR_MIN` and the last of `YEAR_MAX`, in days since 1970-01-01: the
/// range checks on decode compare numbers instead of building a calendar date (measured: 206
/// instructions a record, 3% of a replay). A unit test holds them to the calendar.
const DAY_MIN: i32 = days_from_civil(YEAR_MIN);
const DAY_MAX: i32 = days_from_civil(YEAR_MAX + 1) - 1;

/// Days from 1970-01-01 to January 1st of `year` (proleptic Gregorian).
const fn days_from_civil(year: i32) -> i32 {
    days_from_year_one(year) - days_from_year_one(1970)
}

/// Days from 0001-01-01 to January 1st of `year`.
const fn days_from_year_one(year: i32) -> i32 {
    let y = year - 1;
    365 * y + y / 4 - y / 100 + y / 400
}

/// An instant in UTC: whole seconds since the Unix epoch and nanoseconds within that second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nanos: u32,
}

/// A calendar day: days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Day(pub i32);

impl Timestamp {
    /// Parses RFC 3339 (any offset, normalized to UTC). A leap second (`:60`) is refused: the
    /// ledger counts Unix time, which has none, and storing it as `:59.999999999` (what the
    /// parser would make of it) would silently record another instant than the one written.
    pub fn parse(text: &str) -> Result<Timestamp, String> {
        if is_leap_second(text) {
            return Err(format!(
                "{text:?} is a leap second, which qledger does not record (Unix time has none): \
                 write :59 or the next second"
            ));
        }
        let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("{text:?} is not an RFC 3339 time ({e})"))?;
        // The instant does not depend on the offset; converting to UTC can leave the calendar's
        // range (9999-12-31T23:00:00-05:00), which `to_offset` answers with a panic.
        let ts = Timestamp { secs: t.unix_timestamp(), nanos: t.nanosecond() };
        match ts.to_offset_date_time() {
            Some(_) => Ok(ts),
            None => Err(format!("{text:?} is outside the years {YEAR_MIN}..={YEAR_MAX} in UTC")),
        }
    }

    /// Builds a timestamp from an `OffsetDateTime` (the caller's clock).
    pub fn from_offset_date_time(t: OffsetDateTime) -> Timestamp {
        Timestamp { secs: t.unix_timestamp(), nanos: t.nanosecond() }
    }

    /// Whether the numbers lie in the accepted range (used on decode of stored records).
    pub fn is_valid(self) -> bool {
        let (secs_min, secs_max) = (DAY_MIN as i64 * SECONDS_PER_DAY, (DAY_MAX as i64 + 1) * SECONDS_PER_DAY - 1);
        self.nanos < 1_000_000_000 && (secs_min..=secs_max).contains(&self.secs)
    }

    fn to_offset_date_time(self) -> Option<OffsetDateTime> {
        let t = OffsetDateTime::from_unix_timestamp(self.secs).ok()?;
        let t = t.replace_nanosecond(self.nanos).ok()?;
        check_year(t.year()).ok()?;
        Some(t)
    }

    /// The UTC calendar day this instant falls on.
    pub fn day(self) -> Day {
        Day(self.secs.div_euclid(SECONDS_PER_DAY) as i32)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with a `Z`; fractional seconds only when non-zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_offset_date_time().and_then(|t| t.format(&Rfc3339).ok()) {
            Some(s) => f.write_str(&s),
            None => write!(f, "<invalid time {}.{:09}>", self.secs, self.nanos),
        }
    }
}

impl Day {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Day, String> {
        let b = text.as_bytes();
        let well_formed = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !well_formed {
            return Err(format!("{text:?} is not a date of the form YYYY-MM-DD"));
        }
        let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().unwrap_or(0);
        let (y, m, d) = (num(0..4) as i32, num(5..7), num(8..10));
        check_year(y)?;
        let month = ::time::Month::try_from(m as u8).map_err(|_| format!("{text:?}: no month {m}"))?;
        let date = Date::from_calendar_date(y, month, d as u8)
            .map_err(|_| format!("{text:?} is not a day of the calendar"))?;
        Ok(Day(date.to_julian_day() - UNIX_EPOCH_JULIAN_DAY))
    }

    /// Whether the number lies in the accepted range (used on decode of stored records).
    pub fn is_valid(self) -> bool {
        (DAY_MIN..=DAY_MAX).contains(&self.0)
    }

    fn to_date(self) -> Option<Date> {
        let d = Date::from_julian_day(self.0.checked_add(UNIX_EPOCH_JULIAN_DAY)?).ok()?;
        check_year(d.year()).ok()?;
        Some(d)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_date() {
            Some(d) => {
                write!(f, "{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
            }
            None => write!(f, "<invalid day {}>", self.0),
        }
    }
}

/// Whether an RFC 3339 text names second 60 (`YYYY-MM-DDTHH:MM:60...`).
fn is_leap_second(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 19 && b[13] == b':' && b[16] == b':' && &b[17..19] == b"60"
}

fn check_year(y: i32) -> Result<(), String> {
    if (YEAR_MIN..=YEAR_MAX).contains(&y) {
        Ok(())
    } else {
        Err(format!("year {y} is outside {YEAR_MIN}..={YEAR_MAX}"))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_checks_on_decode_agree_with_the_calendar_at_and_near_its_ends() {
        let calendar_ok =
            |secs: i64, nanos: u32| nanos < 1_000_000_000 && Timestamp { secs, nanos }.to_offset_date_time().is_some();
        let first = DAY_MIN as i64 * SECONDS_PER_DAY;
        let last = (DAY_MAX as i64 + 1) * SECONDS_PER_DAY - 1;
        let mut probes = vec![i64::MIN, i64::MAX, 0, 1_790_000_000];
        for edge in [first, last] {
            probes.extend((-3..=3).map(|d| edge + d));
        }
        for secs in probes {
            for nanos in [0, 999_999_999, 1_000_000_000, u32::MAX] {
                assert_eq!(Timestamp { secs, nanos }.is_valid(), calendar_ok(secs, nanos), "{secs}.{nanos}");
            }
        }
        assert_eq!(Timestamp { secs: last, nanos: 0 }.to_string(), format!("{YEAR_MAX}-12-31T23:59:59Z"));
        for day in [i32::MIN, -1, 0, 1, DAY_MAX - 1, DAY_MAX, DAY_MAX + 1, i32::MAX] {
            assert_eq!(Day(day).is_valid(), Day(day).to_date().is_some(), "day {day}");
        }
        assert_eq!(Day(DAY_MIN).to_string(), format!("{YEAR_MIN}-01-01"));
        assert_eq!(Day(DAY_MAX).to_string(), format!("{YEAR_MAX}-12-31"));
    }

    #[test]
    fn instants_round_trip_and_normalize_offsets() {
        let t = Timestamp::parse("2026-01-20T08:00:00+08:00").unwrap();
        assert_eq!(t.to_string(), "2026-01-20T00:00:00Z");
        let t = Timestamp::parse("2026-01-20T00:00:00.25Z").unwrap();
        assert_eq!(t.nanos, 250_000_000);
        assert_eq!(t.to_string(), "2026-01-20T00:00:00.25Z");
        assert_eq!(t.day().to_string(), "2026-01-20");
    }

    #[test]
    fn instants_beyond_the_calendar_in_utc_are_refused_not_a_panic() {
        assert!(Timestamp::parse("9999-12-31T23:00:00-05:00").is_err());
        assert!(Timestamp::parse("1970-01-01T01:00:00+02:00").is_err());
        assert!(Timestamp::parse("9999-12-31T23:59:59Z").is_ok());
    }

    #[test]
    fn a_leap_second_is_refused_with_its_own_message() {
        for text in ["2016-12-31T23:59:60Z", "2016-12-31T23:59:60.5Z", "2017-01-01T07:59:60+08:00"] {
            let e = Timestamp::parse(text).unwrap_err();
            assert!(e.contains("leap second"), "{text}: {e}");
        }
        assert!(Timestamp::parse("2016-12-31T23:59:59.999999999Z").is_ok());
    }

    #[test]
    fn bad_instants_and_days_are_refused() {
        assert!(Timestamp::parse("2026-01-20 00:00:00").is_err());
        assert!(Timestamp::parse("1969-12-31T23:59:59Z").is_err());
        assert!(Day::parse("2026-02-30").is_err());
        assert!(Day::parse("2026-13-01").is_err());
        assert!(Day::parse("26-01-01").is_err());
        assert!(Day::parse("+2026-01-01").is_err());
        assert_eq!(Day::parse("1970-01-02").unwrap(), Day(1));
        assert_eq!(Day::parse("2027-01-19").unwrap().to_string(), "2027-01-19");
    }
}
