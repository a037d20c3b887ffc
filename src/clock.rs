//! The one representation of time in the database (UTC text, fixed width, so that text order is
//! time order) and the one way times are shown to clients (ISO-8601 in the configured offset).

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Stored form: `2026-11-29T09:10:21.123456Z`. Always 27 characters, so `<`/`>` in SQL compare times.
const STORED: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// Now, as stored in the database.
pub fn now_stored() -> String {
    to_stored(OffsetDateTime::now_utc())
}

/// `moment` must lie in years 1 to 9999 once in UTC: `parse_filter_datetime` makes sure of it for
/// times clients send, and the clock does for the others.
pub fn to_stored(moment: OffsetDateTime) -> String {
    moment
        .to_offset(UtcOffset::UTC)
        .format(STORED)
        .expect("a UTC date in range always formats")
}

/// Reads a stored time back. `None` for text this module did not write.
pub fn from_stored(text: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(text, STORED)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// Shows a stored time the way TCA does: ISO-8601 in `offset`, microseconds only when non-zero,
/// e.g. `2026-11-29T16:00:15.401359+08:00` or `2026-11-29T16:01:51+08:00`.
pub fn display(stored: &str, offset: UtcOffset) -> Option<String> {
    // Checked: 9999-12-31T23:00Z is in year 10000 at +08:00, which `to_offset` panics on.
    let moment = from_stored(stored)?.checked_to_offset(offset)?;
    let micros = moment.microsecond();
    let (hours, minutes, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}{sign}{:02}:{:02}",
        moment.year(),
        u8::from(moment.month()),
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second(),
        hours.unsigned_abs(),
        minutes.unsigned_abs(),
    ))
}

/// A stored time as TCA's records built on `CDBaseModelSerializer` show `created_time`: DRF's
/// `StringRelatedField`, Python's `str()` of the datetime, which is `display` with a space
/// for the `T` (`2026-11-29 16:00:15.401359+08:00`).
pub fn display_str(stored: &str, offset: UtcOffset) -> Option<String> {
    display(stored, offset).map(|text| text.replacen('T', " ", 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn stored_times_are_fixed_width_and_round_trip() {
        let moment = datetime!(2026-11-29 08:00:15.401359 UTC);
        let stored = to_stored(moment);
        assert_eq!(stored, "2026-11-29T08:00:15.401359Z");
        assert_eq!(from_stored(&stored), Some(moment));
        assert_eq!(to_stored(datetime!(2026-01-02 03:04:05 UTC)).len(), 27);
    }

    #[test]
    fn displayed_times_use_the_offset_and_drop_zero_microseconds() {
        let east = UtcOffset::from_hms(8, 0, 0).unwrap();
        assert_eq!(
            display("2026-11-29T08:00:15.401359Z", east).as_deref(),
            Some("2026-11-29T16:00:15.401359+08:00")
        );
        assert_eq!(
            display("2026-11-29T08:01:51.000000Z", east).as_deref(),
            Some("2026-11-29T16:01:51+08:00")
        );
        let west = UtcOffset::from_hms(-5, -30, 0).unwrap();
        assert_eq!(
            display("2026-11-29T08:01:51.000000Z", west).as_deref(),
            Some("2026-11-29T02:31:51-05:30")
        );
        assert_eq!(display("garbage", east), None);
    }
}

/// Reads a datetime filter value the way TCA's Django stack does (TCA_API.md §5.3): ISO-8601 with
/// `T` or a space (seconds, fraction and offset optional), a date alone (midnight), US
/// `MM/DD/YYYY` and `MM/DD/YY` with an optional time, and `Jan 01 2020`-style dates. A value
/// without an offset is read in `tz`. The moment must lie in years 1 to 9999 once in UTC (Python's
/// `datetime` range, and what the stored form can hold with four digits), so `to_stored` takes it.
pub fn parse_filter_datetime(text: &str, tz: UtcOffset) -> Option<OffsetDateTime> {
    let text = text.trim();
    let moment = parse_iso(text, tz)
        .or_else(|| parse_us(text, tz))
        .or_else(|| parse_month_name(text, tz))?;
    moment
        .checked_to_offset(UtcOffset::UTC)
        .filter(|utc| (1..=9999).contains(&utc.year()))
}

fn number(text: &str, min_digits: usize, max_digits: usize) -> Option<u32> {
    if text.len() < min_digits
        || text.len() > max_digits
        || !text.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    text.parse().ok()
}

fn build(
    year: i32,
    month: u32,
    day: u32,
    (hour, minute, second, micro): (u32, u32, u32, u32),
    offset: UtcOffset,
) -> Option<OffsetDateTime> {
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    let time = time::Time::from_hms_micro(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        micro,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// `H:M[:S[.ffffff]]` (Django: one or two digits each, up to six fraction digits, `.` or `,`).
fn parse_clock(text: &str) -> Option<(u32, u32, u32, u32)> {
    let mut parts = text.splitn(3, ':');
    let hour = number(parts.next()?, 1, 2)?;
    let minute = number(parts.next()?, 1, 2)?;
    let (second, micro) = match parts.next() {
        None => (0, 0),
        Some(rest) => {
            let (second, fraction) = match rest.find(['.', ',']) {
                Some(at) => (&rest[..at], Some(&rest[at + 1..])),
                None => (rest, None),
            };
            let micro = match fraction {
                None => 0,
                Some(digits) => {
                    if digits.is_empty()
                        || digits.len() > 12
                        || !digits.bytes().all(|b| b.is_ascii_digit())
                    {
                        return None;
                    }
                    let kept = &digits[..digits.len().min(6)];
                    kept.parse::<u32>().ok()? * 10u32.pow(6 - kept.len() as u32)
                }
            };
            (number(second, 1, 2)?, micro)
        }
    };
    Some((hour, minute, second, micro))
}

/// `Z`, `±HH`, `±HHMM` or `±HH:MM`.
fn parse_zone(text: &str) -> Option<UtcOffset> {
    if text == "Z" {
        return Some(UtcOffset::UTC);
    }
    // The slices below count bytes; on ASCII text they cannot cut a character in two.
    if !text.is_ascii() {
        return None;
    }
    let sign: i8 = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &text[1..];
    let (hours, minutes) = match rest.len() {
        2 => (rest, "00"),
        4 => (&rest[..2], &rest[2..]),
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    let hours = i8::try_from(number(hours, 2, 2)?).ok()?;
    let minutes = i8::try_from(number(minutes, 2, 2)?).ok()?;
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

fn parse_date(text: &str) -> Option<(i32, u32, u32)> {
    let mut parts = text.split('-');
    let year = number(parts.next()?, 4, 4)?;
    let month = number(parts.next()?, 1, 2)?;
    let day = number(parts.next()?, 1, 2)?;
    if parts.next().is_some() {
        return None;
    }
    Some((i32::try_from(year).ok()?, month, day))
}

fn parse_iso(text: &str, tz: UtcOffset) -> Option<OffsetDateTime> {
    let Some(at) = text.find(['T', ' ']) else {
        let (year, month, day) = parse_date(text)?;
        return build(year, month, day, (0, 0, 0, 0), tz);
    };
    let (year, month, day) = parse_date(&text[..at])?;
    let rest = &text[at + 1..];
    let zone_at = rest.find(['Z', '+', '-']);
    let (clock_text, zone) = match zone_at {
        Some(at) => (rest[..at].trim_end(), Some(parse_zone(&rest[at..])?)),
        None => (rest, None),
    };
    build(
        year,
        month,
        day,
        parse_clock(clock_text)?,
        zone.unwrap_or(tz),
    )
}

/// `MM/DD/YYYY` or `MM/DD/YY`, optionally followed by ` H:M[:S[.f]]`.
fn parse_us(text: &str, tz: UtcOffset) -> Option<OffsetDateTime> {
    let (date, clock) = match text.split_once(' ') {
        Some((date, clock)) => (date, Some(clock)),
        None => (text, None),
    };
    let mut parts = date.split('/');
    let month = number(parts.next()?, 1, 2)?;
    let day = number(parts.next()?, 1, 2)?;
    let year_text = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let year = match year_text.len() {
        4 => number(year_text, 4, 4)? as i32,
        // Python's %y: 69-99 are the 1900s, 00-68 the 2000s.
        2 => {
            let short = number(year_text, 2, 2)? as i32;
            if short >= 69 {
                1900 + short
            } else {
                2000 + short
            }
        }
        _ => return None,
    };
    let clock = match clock {
        Some(clock) => parse_clock(clock.trim())?,
        None => (0, 0, 0, 0),
    };
    build(year, month, day, clock, tz)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const FULL_MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_number(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .or_else(|| FULL_MONTHS.iter().position(|m| *m == lower))
        .map(|index| index as u32 + 1)
}

/// `Jan 01 2020`, `Jan 01, 2020`, `01 Jan 2020`, `01 Jan, 2020`, and the same with full names.
fn parse_month_name(text: &str, tz: UtcOffset) -> Option<OffsetDateTime> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [first, second, year] = words.as_slice() else {
        return None;
    };
    let year = number(year, 4, 4)? as i32;
    let (month, day) = match month_number(first) {
        Some(month) => (
            month,
            number(second.strip_suffix(',').unwrap_or(second), 1, 2)?,
        ),
        None => (
            month_number(second.strip_suffix(',').unwrap_or(second))?,
            number(first, 1, 2)?,
        ),
    };
    build(year, month, day, (0, 0, 0, 0), tz)
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    fn parsed(text: &str) -> Option<String> {
        let tz = UtcOffset::from_hms(8, 0, 0).unwrap();
        parse_filter_datetime(text, tz).map(to_stored)
    }

    #[test]
    fn the_accepted_forms_parse_in_the_configured_offset() {
        assert_eq!(
            parsed("2020-01-01T10:00").as_deref(),
            Some("2020-01-01T02:00:00.000000Z")
        );
        assert_eq!(
            parsed("2020-01-01 10:00:00.123").as_deref(),
            Some("2020-01-01T02:00:00.123000Z")
        );
        assert_eq!(
            parsed("2020-01-01T10:00:00Z").as_deref(),
            Some("2020-01-01T10:00:00.000000Z")
        );
        assert_eq!(
            parsed("2020-01-01T10:00:00.123456+0800").as_deref(),
            Some("2020-01-01T02:00:00.123456Z")
        );
        assert_eq!(
            parsed("2020-01-01 10:00:00+08").as_deref(),
            Some("2020-01-01T02:00:00.000000Z")
        );
        assert_eq!(
            parsed("2020-01-01T10:00:00-05:30").as_deref(),
            Some("2020-01-01T15:30:00.000000Z")
        );
        assert_eq!(
            parsed("2020-1-2 3:4").as_deref(),
            Some("2020-01-01T19:04:00.000000Z")
        );
        assert_eq!(
            parsed("2020-01-01").as_deref(),
            Some("2019-12-31T16:00:00.000000Z")
        );
        assert_eq!(
            parsed("01/02/2020").as_deref(),
            Some("2020-01-01T16:00:00.000000Z")
        );
        assert_eq!(
            parsed("01/02/20").as_deref(),
            Some("2020-01-01T16:00:00.000000Z")
        );
        assert_eq!(
            parsed("Jan 01 2020").as_deref(),
            Some("2019-12-31T16:00:00.000000Z")
        );
    }

    #[test]
    fn the_rejected_forms_do_not_parse() {
        for text in [
            "2020/01/01",
            "2020-01-01 10",
            "1577836800",
            "2020-13-01",
            "2020-01-01 10:00:00 08:00",
            "",
            "abc",
        ] {
            assert_eq!(parsed(text), None, "{text}");
        }
    }

    #[test]
    fn times_outside_years_1_to_9999_in_utc_do_not_parse() {
        // Issue 8, hole 4: these were in range as written and panicked once moved to UTC.
        for text in [
            "9999-12-31T23:59:59-23:00",
            "9999-12-31T23:59:59-00:01",
            "0001-01-01T00:00:00+00:01",
            "0001-01-01",
            "0000-06-01T00:00:00Z",
        ] {
            assert_eq!(parsed(text), None, "{text}");
        }
        assert_eq!(
            parsed("9999-12-31T23:59:59.999999Z").as_deref(),
            Some("9999-12-31T23:59:59.999999Z")
        );
        assert_eq!(
            parsed("9999-12-31T23:59:59+23:00").as_deref(),
            Some("9999-12-31T00:59:59.000000Z")
        );
        assert_eq!(
            parsed("0001-01-01T00:00:00-23:00").as_deref(),
            Some("0001-01-01T23:00:00.000000Z")
        );
    }

    #[test]
    fn zones_with_multibyte_characters_do_not_parse() {
        // Issue 8, hole 4: `+aéb` has four bytes, and slicing it at byte 2 split the `é`.
        for text in [
            "2020-01-01T10:00+a\u{e9}b",
            "2020-01-01T10:00-\u{e9}\u{e9}",
            "2020-01-01T10:00+0\u{e9}0",
            "2020-01-01T10:00:00.\u{e9}",
            "\u{e9}\u{e9}-01-01",
        ] {
            assert_eq!(parsed(text), None, "{text}");
        }
    }
}

/// Microseconds from `from` to `to` (both stored form), `None` if either is unreadable.
pub fn micros_between(from: &str, to: &str) -> Option<i64> {
    let from = from_stored(from)?;
    let to = from_stored(to)?;
    i64::try_from((to - from).whole_microseconds()).ok()
}

/// Now as stored, truncated to whole seconds (TCA computes running durations that way).
pub fn now_stored_whole_seconds() -> String {
    let now = OffsetDateTime::now_utc();
    to_stored(now.replace_nanosecond(0).unwrap_or(now))
}

/// A duration as TCA shows it: Python's `str(timedelta.total_seconds())`, e.g. `1.0`, `62.75`,
/// `-0.401359`, `1e-05`.
pub fn seconds_text(micros: i64) -> String {
    let seconds = micros as f64 / 1e6;
    if seconds == 0.0 {
        return "0.0".to_string();
    }
    let magnitude = seconds.abs();
    if !(1e-4..1e16).contains(&magnitude) {
        // Python switches to exponent form: mantissa as short as possible, exponent two digits.
        let text = format!("{seconds:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let text = format!("{seconds}");
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

/// The CPU time the calling thread has used, in microseconds (0 where the system cannot say):
/// what a stage costs apart from the time other threads and processes took from it.
pub fn thread_cpu_micros() -> i64 {
    use nix::sys::resource::{getrusage, UsageWho};
    use nix::sys::time::TimeValLike;
    getrusage(UsageWho::RUSAGE_THREAD)
        .map(|usage| (usage.user_time() + usage.system_time()).num_microseconds())
        .unwrap_or(0)
}

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn durations_read_like_python_floats() {
        assert_eq!(seconds_text(1_000_000), "1.0");
        assert_eq!(seconds_text(62_750_000), "62.75");
        assert_eq!(seconds_text(-401_359), "-0.401359");
        assert_eq!(seconds_text(10), "1e-05");
        assert_eq!(seconds_text(15), "1.5e-05");
        assert_eq!(seconds_text(0), "0.0");
        assert_eq!(seconds_text(86_400_000_000), "86400.0");
    }

    #[test]
    fn micros_between_stored_times() {
        assert_eq!(
            micros_between("2026-01-01T00:00:00.000000Z", "2026-01-01T00:01:02.750000Z"),
            Some(62_750_000)
        );
    }
}

/// Properties of the parsers of client-sent times (issue 8, hole 4): no text makes them panic,
/// and every time written in an accepted form reads back as itself.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use time::{Date, Month, PrimitiveDateTime, Time};

    use super::*;
    use crate::config::parse_offset;

    /// A calendar moment, with the first and last years supported drawn often.
    fn local_moment() -> impl Strategy<Value = PrimitiveDateTime> {
        let year = prop_oneof![Just(1), Just(9999), 1..=9999i32];
        (
            year,
            1..=12u8,
            1..=31u8,
            0..24u8,
            0..60u8,
            0..60u8,
            0..1_000_000u32,
        )
            .prop_filter_map(
                "a real date",
                |(year, month, day, hour, minute, second, micro)| {
                    let date =
                        Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
                    let time = Time::from_hms_micro(hour, minute, second, micro).ok()?;
                    Some(PrimitiveDateTime::new(date, time))
                },
            )
    }

    /// An offset within a day, as both parsers accept; whole hours often (`+08` is a spelling).
    fn offset() -> impl Strategy<Value = UtcOffset> {
        (any::<bool>(), 0..=23i8, prop_oneof![Just(0), 0..=59i8]).prop_map(
            |(is_negative, hours, minutes)| {
                let sign = if is_negative { -1 } else { 1 };
                UtcOffset::from_hms(sign * hours, sign * minutes, 0).expect("within a day")
            },
        )
    }

    /// `offset` in one of the spellings a client may use: `Z`, `+HH`, `+HHMM`, `+HH:MM`.
    fn zone_text(offset: UtcOffset, spelling: u8) -> String {
        let (hours, minutes, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        let (hours, minutes) = (hours.unsigned_abs(), minutes.unsigned_abs());
        match spelling % 4 {
            0 if offset == UtcOffset::UTC => "Z".to_string(),
            1 if minutes == 0 => format!("{sign}{hours:02}"),
            2 => format!("{sign}{hours:02}{minutes:02}"),
            _ => format!("{sign}{hours:02}:{minutes:02}"),
        }
    }

    /// `YYYY-MM-DD<separator>HH:MM:SS.ffffff<zone>`.
    fn iso_text(local: PrimitiveDateTime, separator: char, zone: &str) -> String {
        format!(
            "{:04}-{:02}-{:02}{separator}{:02}:{:02}:{:02}.{:06}{zone}",
            local.year(),
            u8::from(local.month()),
            local.day(),
            local.hour(),
            local.minute(),
            local.second(),
            local.microsecond(),
        )
    }

    /// The moment `local` at `offset`, when it lies in years 1 to 9999 in UTC.
    fn expected(local: PrimitiveDateTime, offset: UtcOffset) -> Option<String> {
        local
            .assume_offset(offset)
            .checked_to_offset(UtcOffset::UTC)
            .filter(|utc| (1..=9999).contains(&utc.year()))
            .map(to_stored)
    }

    /// Any character, drawn often from the separators, digits and multi-byte characters that
    /// trip parsers slicing by bytes.
    fn tricky_char() -> impl Strategy<Value = char> {
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                'é', '中', '😀', '+', '-', ':', 'Z', 'T', ' ', '.', ',', '/', '0', '9'
            ]),
        ]
    }

    /// Text shaped like the accepted forms, with odd characters where a zone or a fraction goes.
    fn near_datetime() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}([T ][0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3}([.,][0-9é]{0,14})?)?)? ?(Z|[+-][0-9:aé中😀]{0,6}|[+-].{0,6})?",
            "[0-9]{1,3}/[0-9]{1,3}/[0-9]{1,5}( [0-9]{1,3}:[0-9]{1,3}(:.{0,4})?)?",
            "[0-9]{1,3},? [A-Za-z]{3,9},? [0-9]{1,5}",
            "[A-Za-z]{3,9} [0-9]{1,3},? [0-9]{1,5}",
        ]
    }

    proptest! {
        // A failure becomes a named unit test above, not a seed file in the repository.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn no_text_makes_the_datetime_parser_panic(
            text in prop_oneof![any::<String>(), near_datetime()],
            tz in offset(),
        ) {
            if let Some(moment) = parse_filter_datetime(&text, tz) {
                let stored = to_stored(moment);
                prop_assert_eq!(stored.len(), 27);
                prop_assert_eq!(from_stored(&stored), Some(moment));
            }
        }

        #[test]
        fn any_text_in_place_of_one_part_of_a_valid_datetime_never_panics(
            local in local_moment(),
            zone in offset(),
            spelling in any::<u8>(),
            part in any::<prop::sample::Index>(),
            replacement in prop::collection::vec(tricky_char(), 0..7),
            tz in offset(),
        ) {
            let zone = zone_text(zone, spelling);
            let (sign, zone_digits) = zone.split_at(1);
            let mut parts = vec![
                format!("{:04}", local.year()),
                "-".into(),
                format!("{:02}", u8::from(local.month())),
                "-".into(),
                format!("{:02}", local.day()),
                "T".into(),
                format!("{:02}", local.hour()),
                ":".into(),
                format!("{:02}", local.minute()),
                ":".into(),
                format!("{:02}", local.second()),
                ".".into(),
                format!("{:06}", local.microsecond()),
                sign.into(),
                zone_digits.into(),
            ];
            let at = part.index(parts.len());
            parts[at] = replacement.iter().collect();
            let text = parts.concat();
            let _ = parse_filter_datetime(&text, tz);
            // The same with the date written the US way and the zone dropped.
            let us = format!("{}/{}/{} {}:{}:{}", parts[2], parts[4], parts[0], parts[6], parts[8], parts[10]);
            let _ = parse_filter_datetime(&us, tz);
        }

        #[test]
        fn an_iso_datetime_with_an_offset_reads_back_as_itself_or_not_at_all(
            local in local_moment(),
            zone in offset(),
            spelling in any::<u8>(),
            use_space in any::<bool>(),
            tz in offset(),
        ) {
            let separator = if use_space { ' ' } else { 'T' };
            let text = iso_text(local, separator, &zone_text(zone, spelling));
            prop_assert_eq!(
                parse_filter_datetime(&text, tz).map(to_stored),
                expected(local, zone),
                "{}", text
            );
        }

        #[test]
        fn a_naive_datetime_or_a_date_is_read_in_the_servers_offset(
            local in local_moment(),
            tz in offset(),
        ) {
            let date = local.date();
            let (year, month, day) = (date.year(), u8::from(date.month()), date.day());
            let naive = format!(
                "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
                local.hour(),
                local.minute(),
                local.second()
            );
            let whole_second = local.replace_microsecond(0).expect("0 is a valid microsecond");
            prop_assert_eq!(
                parse_filter_datetime(&naive, tz).map(to_stored),
                expected(whole_second, tz),
                "{}", naive
            );
            let midnight = local.replace_time(Time::MIDNIGHT);
            let month_name = MONTHS[usize::from(month) - 1];
            for text in [
                format!("{year:04}-{month:02}-{day:02}"),
                format!("{month:02}/{day:02}/{year:04}"),
                format!("{month_name} {day:02} {year:04}"),
                format!("{day} {month_name}, {year:04}"),
            ] {
                prop_assert_eq!(
                    parse_filter_datetime(&text, tz).map(to_stored),
                    expected(midnight, tz),
                    "{}", text
                );
            }
        }

        #[test]
        fn a_displayed_time_reads_back_as_the_stored_one(
            local in local_moment(),
            shown_in in offset(),
            tz in offset(),
        ) {
            let moment = local.assume_utc();
            let stored = to_stored(moment);
            // `None` only when the moment falls outside years 1 to 9999 in `shown_in`.
            if let Some(shown) = display(&stored, shown_in) {
                prop_assert_eq!(
                    parse_filter_datetime(&shown, tz).map(to_stored),
                    Some(stored),
                    "{}", shown
                );
            }
        }

        #[test]
        fn no_text_makes_an_offset_parser_panic(
            text in prop_oneof![any::<String>(), "[+-]?.{0,6}", "[+-]?[0-9:aé中😀]{0,6}"],
        ) {
            let _ = parse_zone(&text);
            let _ = parse_offset(&text);
        }

        #[test]
        fn every_offset_within_a_day_reads_back_in_each_spelling(
            zone in offset(),
            spelling in any::<u8>(),
        ) {
            let text = zone_text(zone, spelling);
            prop_assert_eq!(parse_zone(&text), Some(zone), "{}", text);
            prop_assert_eq!(parse_offset(&text), Some(zone), "{}", text);
        }
    }
}
