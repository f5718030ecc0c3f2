//! Pure calendar arithmetic: a shop's day in its time zone, and which days' reports are due.

use crate::time::Millis;
use chrono::{DateTime, Days, NaiveDate, TimeZone};
use chrono_tz::Tz;

/// Reports are caught up at most this many days back after a long downtime.
pub const MAX_CATCH_UP_DAYS: u64 = 31;

/// A local calendar day as a half-open UTC interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayWindow {
    pub date: NaiveDate,
    pub start: Millis,
    pub end: Millis,
}

/// The first instant of `date` in `tz` (the first valid local time, across a DST gap).
pub fn local_midnight(date: NaiveDate, tz: Tz) -> Millis {
    (0..24)
        .find_map(|hour| {
            let naive = date.and_hms_opt(hour, 0, 0)?;
            tz.from_local_datetime(&naive).earliest()
        })
        .map_or_else(
            || {
                date.and_hms_opt(0, 0, 0)
                    .map_or(0, |n| n.and_utc().timestamp_millis())
            },
            |d| d.timestamp_millis(),
        )
}

/// The day `date` in `tz`.
pub fn window(date: NaiveDate, tz: Tz) -> DayWindow {
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    DayWindow {
        date,
        start: local_midnight(date, tz),
        end: local_midnight(next, tz),
    }
}

/// The local date of an instant.
pub fn date_of(at: Millis, tz: Tz) -> NaiveDate {
    DateTime::from_timestamp_millis(at)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive()
}

/// When the report for `date` is due: the first firing of `cron` at or after the day's end.
pub fn due_at(date: NaiveDate, tz: Tz, cron: &croner::Cron) -> Option<Millis> {
    let end = window(date, tz).end;
    let end = DateTime::from_timestamp_millis(end)?.with_timezone(&tz);
    cron.find_next_occurrence(&end, true)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Days whose report is due at `now` and not produced yet, oldest first. With no report
/// ever made, only the most recent due day: history is not backfilled on first start.
pub fn due_days(
    last_done: Option<NaiveDate>,
    now: Millis,
    tz: Tz,
    cron: &croner::Cron,
) -> Vec<NaiveDate> {
    let today = date_of(now, tz);
    let floor = today
        .checked_sub_days(Days::new(MAX_CATCH_UP_DAYS))
        .unwrap_or(today);
    let mut day = match last_done {
        Some(d) => d.checked_add_days(Days::new(1)).unwrap_or(today).max(floor),
        None => {
            let yesterday = today.checked_sub_days(Days::new(1)).unwrap_or(today);
            // Before tonight's firing, yesterday's report is not due; the day before is.
            match due_at(yesterday, tz, cron) {
                Some(t) if t <= now => yesterday,
                _ => yesterday
                    .checked_sub_days(Days::new(1))
                    .unwrap_or(yesterday),
            }
        }
    };
    let mut due = Vec::new();
    while day < today {
        match due_at(day, tz, cron) {
            Some(t) if t <= now => due.push(day),
            _ => break,
        }
        day = match day.checked_add_days(Days::new(1)) {
            Some(d) => d,
            None => break,
        };
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn utc(text: &str) -> Millis {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    fn nightly() -> croner::Cron {
        croner::Cron::from_str("10 0 * * *").unwrap()
    }

    #[test]
    fn a_day_follows_the_zone() {
        let ouaga: Tz = "Africa/Ouagadougou".parse().unwrap();
        let w = window(d("2026-11-23"), ouaga);
        assert_eq!(
            (w.start, w.end),
            (utc("2026-11-23T00:00:00Z"), utc("2026-11-24T00:00:00Z"))
        );
        let abidjan_lagos: Tz = "Africa/Lagos".parse().unwrap(); // UTC+1
        let w = window(d("2026-11-23"), abidjan_lagos);
        assert_eq!(w.start, utc("2026-11-22T23:00:00Z"));
        assert_eq!(
            date_of(utc("2026-11-22T23:30:00Z"), abidjan_lagos),
            d("2026-11-23")
        );
    }

    #[test]
    fn dst_days_are_23_or_25_hours() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let spring = window(d("2026-03-29"), paris);
        assert_eq!(spring.end - spring.start, 23 * 3_600_000);
        let autumn = window(d("2026-10-25"), paris);
        assert_eq!(autumn.end - autumn.start, 25 * 3_600_000);
    }

    #[test]
    fn catch_up_lists_each_missed_day_once_in_order() {
        let tz: Tz = "Africa/Ouagadougou".parse().unwrap();
        let now = utc("2026-11-24T08:00:00Z");
        let due = due_days(Some(d("2026-11-20")), now, tz, &nightly());
        assert_eq!(due, [d("2026-11-21"), d("2026-11-22"), d("2026-11-23")]);
        assert!(due_days(Some(d("2026-11-23")), now, tz, &nightly()).is_empty());
    }

    #[test]
    fn yesterday_is_due_only_after_tonight_s_firing() {
        let tz: Tz = "Africa/Ouagadougou".parse().unwrap();
        let before = utc("2026-11-24T00:05:00Z");
        let after = utc("2026-11-24T00:10:00Z");
        assert!(due_days(Some(d("2026-11-22")), before, tz, &nightly()).is_empty());
        assert_eq!(
            due_days(Some(d("2026-11-22")), after, tz, &nightly()),
            [d("2026-11-23")]
        );
        assert_eq!(due_days(None, before, tz, &nightly()), [d("2026-11-22")]);
        assert_eq!(due_days(None, after, tz, &nightly()), [d("2026-11-23")]);
    }

    #[test]
    fn a_long_downtime_catches_up_at_most_a_month() {
        let tz: Tz = "Africa/Ouagadougou".parse().unwrap();
        let now = utc("2026-11-24T08:00:00Z");
        let due = due_days(Some(d("2025-01-01")), now, tz, &nightly());
        assert_eq!(due.len() as u64, MAX_CATCH_UP_DAYS);
        assert_eq!(due.last(), Some(&d("2026-11-23")));
    }
}
