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
    let moment = from_stored(stored)?.to_offset(offset);
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
