//! How a `create_time` range splits for the job tallies (schema.sql, `job_tallies`): whole
//! months and whole days, whose counts the tallies hold, and at most two partial days at the
//! ends, whose jobs are counted one by one. Pure: stored-form times in, period keys out.

use time::{Date, Month, PrimitiveDateTime, Time};

use crate::clock;

/// A `create_time` range (both ends inclusive, stored form) cut into what the tallies can sum
/// and what must be counted in the jobs themselves.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// Inclusive ranges of `job_tallies.period` keys ('M2026-02', 'D2026-02-10').
    pub periods: Vec<(String, String)>,
    /// Ranges of day keys to take away from `periods`: a month that is mostly in the range is
    /// summed whole, less its few days outside it (fewer tally rows than its many days inside).
    pub minus: Vec<(String, String)>,
    /// Inclusive `create_time` ranges (stored form), each within one day.
    pub edges: Vec<(String, String)>,
    /// Ranges of `edges`' kind to take away: a partial day that is most of its day is its day's
    /// tallies (in `periods`) less the jobs of the rest of it.
    pub minus_edges: Vec<(String, String)>,
}

const LOWEST_MONTH: &str = "M0000-00";
const HIGHEST_MONTH: &str = "M9999-99";
const LOWEST_DAY: &str = "D0000-00-00";
const HIGHEST_DAY: &str = "D9999-99-99";

/// Splits `[low, high]`; `None` is an open end. An unreadable bound (never made by the filter
/// readers) leaves the whole range to the jobs themselves, which is slow but exact.
pub fn split(low: Option<&str>, high: Option<&str>) -> Split {
    let parse = |text: Option<&str>| match text {
        None => Some(None),
        Some(text) => clock::from_stored(text)
            .map(|moment| Some(PrimitiveDateTime::new(moment.date(), moment.time()))),
    };
    let (Some(low_at), Some(high_at)) = (parse(low), parse(high)) else {
        let edge = (
            low.unwrap_or("").to_string(),
            high.unwrap_or("\u{7f}").to_string(),
        );
        return Split {
            edges: vec![edge],
            ..Split::default()
        };
    };
    if let (Some(low_at), Some(high_at)) = (low_at, high_at) {
        if low_at > high_at {
            return Split::default();
        }
        if low_at.date() == high_at.date() && !(is_midnight(low_at) && is_day_end(high_at)) {
            return Split {
                edges: vec![(stored(low_at), stored(high_at))],
                ..Split::default()
            };
        }
    }
    let mut split = Split::default();
    let first_full = match low_at {
        None => Some(None),
        Some(at) if is_midnight(at) => Some(Some(at.date())),
        Some(at) => {
            split.add_edge(at, at.date().with_time(day_end()));
            at.date().next_day().map(Some)
        }
    };
    let last_full = match high_at {
        None => Some(None),
        Some(at) if is_day_end(at) => Some(Some(at.date())),
        Some(at) => {
            split.add_edge(at.date().midnight(), at);
            at.date().previous_day().map(Some)
        }
    };
    if let (Some(first), Some(last)) = (first_full, last_full) {
        if first.zip(last).is_none_or(|(first, last)| first <= last) {
            let periods = full_days(first, last);
            split.periods.extend(periods.plus);
            split.minus = periods.minus;
        }
    }
    split
}

impl Split {
    /// A partial day `[from, to]` that starts at midnight or ends at the day's end: counted in
    /// the jobs, or, when it is more than half its day, as the day's tallies less the jobs of
    /// the rest of the day, so at most half a day's jobs are read at each end.
    fn add_edge(&mut self, from: PrimitiveDateTime, to: PrimitiveDateTime) {
        let half_day = time::Duration::hours(12);
        if to - from <= half_day {
            self.edges.push((stored(from), stored(to)));
            return;
        }
        let day = day_key(Some(from.date()), "");
        self.periods.push((day.clone(), day));
        let micro = time::Duration::microseconds(1);
        let rest = if is_midnight(from) {
            (to + micro, from.date().with_time(day_end()))
        } else {
            (from.date().midnight(), from - micro)
        };
        self.minus_edges.push((stored(rest.0), stored(rest.1)));
    }
}

/// The period ranges covering the whole days `first..=last` (`None`: open): whole months as
/// months, the days before the first and after the last whole month as days.
fn full_days(first: Option<Date>, last: Option<Date>) -> Periods {
    // The first and last whole months, as the date of their first day.
    let month_from = match first {
        None => Some(None),
        Some(day) if day.day() == 1 => Some(Some(day)),
        Some(day) => next_month(day).map(Some),
    };
    let month_to = match last {
        None => Some(None),
        Some(day) if day.next_day().is_none_or(|next| next.day() == 1) => Some(Some(first_of(day))),
        Some(day) => previous_month(day).map(Some),
    };
    let months = match (month_from, month_to) {
        (Some(from), Some(to)) if from.zip(to).is_none_or(|(from, to)| from <= to) => {
            Some((from, to))
        }
        _ => None,
    };
    let mut periods = Periods::default();
    let Some((from, to)) = months else {
        // No whole month: the days, in at most two months (both ends are dates here, or a
        // whole month would lie between them).
        let (Some(first), Some(last)) = (first, last) else {
            periods
                .plus
                .push((day_key(first, LOWEST_DAY), day_key(last, HIGHEST_DAY)));
            return periods;
        };
        if first.month() == last.month() && first.year() == last.year() {
            periods.add_days(first, last);
        } else {
            periods.add_days(first, month_end(first));
            periods.add_days(first_of(last), last);
        }
        return periods;
    };
    periods
        .plus
        .push((month_key(from, LOWEST_MONTH), month_key(to, HIGHEST_MONTH)));
    if let (Some(first), Some(from)) = (first, from) {
        if first < from {
            let before = from
                .previous_day()
                .expect("a day after `first` has one before it");
            periods.add_days(first, before);
        }
    }
    if let (Some(last), Some(to)) = (last, to) {
        if let Some(after) = next_month(to).filter(|after| *after <= last) {
            periods.add_days(after, last);
        }
    }
    periods
}

/// Period ranges to sum and day ranges to take away.
#[derive(Default)]
struct Periods {
    plus: Vec<(String, String)>,
    minus: Vec<(String, String)>,
}

/// What summing a month's tally rows costs, in days' rows (a month holds more combinations of
/// the counted columns than a day, but far fewer than its days together).
const MONTH_COST: i64 = 2;

impl Periods {
    /// The days `first..=last` of one month: as days, or as the month less the days outside
    /// them, whichever reads fewer tally rows.
    fn add_days(&mut self, first: Date, last: Date) {
        let (start, end) = (first_of(first), month_end(first));
        let inside = i64::from(last.ordinal()) - i64::from(first.ordinal()) + 1;
        let outside = i64::from(end.day()) - inside;
        if outside + MONTH_COST >= inside {
            self.plus
                .push((day_key(Some(first), ""), day_key(Some(last), "")));
            return;
        }
        self.plus
            .push((month_key(Some(start), ""), month_key(Some(start), "")));
        if let Some(before) = first.previous_day().filter(|day| *day >= start) {
            self.minus
                .push((day_key(Some(start), ""), day_key(Some(before), "")));
        }
        if let Some(after) = last.next_day().filter(|day| *day <= end) {
            self.minus
                .push((day_key(Some(after), ""), day_key(Some(end), "")));
        }
    }
}

/// The last day of `day`'s month.
fn month_end(day: Date) -> Date {
    next_month(day)
        .and_then(|next| next.previous_day())
        .unwrap_or(Date::MAX)
}

fn stored(at: PrimitiveDateTime) -> String {
    clock::to_stored(at.assume_utc())
}

fn day_end() -> Time {
    Time::from_hms_micro(23, 59, 59, 999_999).expect("a valid time")
}

fn is_midnight(at: PrimitiveDateTime) -> bool {
    at.time() == Time::MIDNIGHT
}

fn is_day_end(at: PrimitiveDateTime) -> bool {
    at.time() == day_end()
}

fn first_of(day: Date) -> Date {
    day.replace_day(1).expect("every month has a first day")
}

/// The first day of the month after `day`'s (`None` after December 9999).
fn next_month(day: Date) -> Option<Date> {
    let year = if day.month() == Month::December {
        day.year().checked_add(1)?
    } else {
        day.year()
    };
    Date::from_calendar_date(year, day.month().next(), 1).ok()
}

/// The first day of the month before `day`'s (`None` before January of year 1's minimum).
fn previous_month(day: Date) -> Option<Date> {
    let year = if day.month() == Month::January {
        day.year().checked_sub(1)?
    } else {
        day.year()
    };
    Date::from_calendar_date(year, day.month().previous(), 1).ok()
}

fn day_key(day: Option<Date>, open: &str) -> String {
    day.map_or_else(
        || open.to_string(),
        |day| {
            format!(
                "D{:04}-{:02}-{:02}",
                day.year(),
                day.month() as u8,
                day.day()
            )
        },
    )
}

fn month_key(month: Option<Date>, open: &str) -> String {
    month.map_or_else(
        || open.to_string(),
        |day| format!("M{:04}-{:02}", day.year(), day.month() as u8),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_range_splits_into_edges_days_and_months() {
        let split = split(
            Some("2026-01-10T16:00:00.000000Z"),
            Some("2026-04-02T15:59:59.999999Z"),
        );
        // April 2 until 16:00 is most of the day: the day less its last eight hours.
        assert_eq!(
            split.periods,
            ranges(&[
                ("D2026-04-02", "D2026-04-02"),
                ("M2026-02", "M2026-03"),
                ("M2026-01", "M2026-01"),
                ("D2026-04-01", "D2026-04-01"),
            ])
        );
        // January 11 to 31 is January less its first ten days.
        assert_eq!(split.minus, ranges(&[("D2026-01-01", "D2026-01-10")]));
        assert_eq!(
            split.edges,
            ranges(&[("2026-01-10T16:00:00.000000Z", "2026-01-10T23:59:59.999999Z")])
        );
        assert_eq!(
            split.minus_edges,
            ranges(&[("2026-04-02T16:00:00.000000Z", "2026-04-02T23:59:59.999999Z")])
        );
    }

    #[test]
    fn a_partial_day_is_counted_from_its_shorter_side() {
        // The bench's range: from 10:00 on the first day (14 hours of it) to 22:00 on the last.
        let split = split(
            Some("2026-03-05T10:00:00.000000Z"),
            Some("2026-03-30T22:00:00.000000Z"),
        );
        assert!(split.edges.is_empty());
        assert_eq!(
            split.minus_edges,
            ranges(&[
                ("2026-03-05T00:00:00.000000Z", "2026-03-05T09:59:59.999999Z"),
                ("2026-03-30T22:00:00.000001Z", "2026-03-30T23:59:59.999999Z"),
            ])
        );
        assert_eq!(
            split.periods,
            ranges(&[
                ("D2026-03-05", "D2026-03-05"),
                ("D2026-03-30", "D2026-03-30"),
                ("M2026-03", "M2026-03"),
            ])
        );
        assert_eq!(
            split.minus,
            ranges(&[
                ("D2026-03-01", "D2026-03-05"),
                ("D2026-03-30", "D2026-03-31")
            ])
        );
        // Exactly half a day stays an edge.
        let half = super::split(Some("2026-03-05T12:00:00.000000Z"), None);
        assert_eq!(
            half.edges,
            ranges(&[("2026-03-05T12:00:00.000000Z", "2026-03-05T23:59:59.999999Z")])
        );
        assert!(half.minus_edges.is_empty());
    }

    #[test]
    fn open_ends_reach_every_period_and_a_range_within_a_day_is_one_edge() {
        let open = split(None, None);
        assert_eq!(open.periods, ranges(&[(LOWEST_MONTH, HIGHEST_MONTH)]));
        assert!(open.edges.is_empty());
        let from = split(Some("2026-02-01T00:00:00.000000Z"), None);
        assert_eq!(from.periods, ranges(&[("M2026-02", HIGHEST_MONTH)]));
        let to = split(None, Some("2026-02-03T23:59:59.999999Z"));
        assert_eq!(
            to.periods,
            ranges(&[(LOWEST_MONTH, "M2026-01"), ("D2026-02-01", "D2026-02-03")])
        );
        let within = split(
            Some("2026-02-03T01:00:00.000000Z"),
            Some("2026-02-03T02:00:00.000000Z"),
        );
        assert!(within.periods.is_empty());
        assert_eq!(within.edges.len(), 1);
        let short = split(
            Some("2026-02-03T12:00:00.000000Z"),
            Some("2026-02-04T12:00:00.000000Z"),
        );
        assert!(short.periods.is_empty());
        assert_eq!(short.edges.len(), 2);
        assert_eq!(
            split(
                Some("2026-02-04T00:00:00.000000Z"),
                Some("2026-02-03T00:00:00.000000Z")
            ),
            Split::default()
        );
    }

    #[test]
    fn a_month_mostly_in_range_is_summed_whole_less_its_days_outside() {
        // The bench's range: March 6 to June 29 whole, March 5 and June 30 partial.
        let split = split(
            Some("2026-03-05T02:00:00.000000Z"),
            Some("2026-06-30T14:00:00.000000Z"),
        );
        assert_eq!(
            split.periods,
            ranges(&[
                ("D2026-03-05", "D2026-03-05"),
                ("D2026-06-30", "D2026-06-30"),
                ("M2026-04", "M2026-05"),
                ("M2026-03", "M2026-03"),
                ("M2026-06", "M2026-06")
            ])
        );
        assert_eq!(
            split.minus,
            ranges(&[
                ("D2026-03-01", "D2026-03-05"),
                ("D2026-06-30", "D2026-06-30")
            ])
        );
        assert_eq!(split.minus_edges.len(), 2);
        // Within one month, both ends away: the month less two runs of days.
        let within = super::split(
            Some("2026-02-03T00:00:00.000000Z"),
            Some("2026-02-25T23:59:59.999999Z"),
        );
        assert_eq!(within.periods, ranges(&[("M2026-02", "M2026-02")]));
        assert_eq!(
            within.minus,
            ranges(&[
                ("D2026-02-01", "D2026-02-02"),
                ("D2026-02-26", "D2026-02-28")
            ])
        );
        // Across a month's end without a whole month: each side on its own.
        let across = super::split(
            Some("2026-01-20T00:00:00.000000Z"),
            Some("2026-02-10T23:59:59.999999Z"),
        );
        assert_eq!(
            across.periods,
            ranges(&[
                ("D2026-01-20", "D2026-01-31"),
                ("D2026-02-01", "D2026-02-10")
            ])
        );
        assert!(across.minus.is_empty());
    }

    #[test]
    fn the_ends_of_the_calendar_do_not_overflow() {
        let top = split(Some("9999-12-31T12:00:00.000000Z"), None);
        assert!(top.periods.is_empty());
        assert_eq!(top.edges.len(), 1);
        let bottom = split(None, Some("0001-01-01T12:00:00.000000Z"));
        assert_eq!(bottom.edges.len(), 1);
        let whole = split(
            Some("0001-01-01T00:00:00.000000Z"),
            Some("9999-12-31T23:59:59.999999Z"),
        );
        assert_eq!(whole.periods, ranges(&[("M0001-01", "M9999-12")]));
    }
}
