//! Pure billing rules: billing periods, proration, the dunning and expiry
//! schedules, and which subscription states a provider event may move.

use time::{Date, Month, OffsetDateTime};

pub const DAY: i64 = 86_400;
/// A failed payment: reminders on these days, suspension on `SUSPEND_DAY`.
pub const REMINDER_DAYS: [i64; 3] = [0, 3, 7];
pub const SUSPEND_DAY: i64 = 8;
/// After three days unpaid the subscription is past due, not only in grace.
pub const PAST_DUE_DAY: i64 = 3;
/// Expiry notices before the end of a period that will not renew.
pub const EXPIRY_NOTICE_DAYS: [i64; 2] = [7, 1];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cycle {
    Monthly,
    Yearly,
}

impl Cycle {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "monthly" => Some(Cycle::Monthly),
            "yearly" => Some(Cycle::Yearly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cycle::Monthly => "monthly",
            Cycle::Yearly => "yearly",
        }
    }
}

/// The end of a period starting at `start`: the same day and time one
/// calendar month (or year) later, clamped to the month's last day
/// (31 January → 28/29 February).
pub fn period_end(start: i64, cycle: Cycle) -> i64 {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(start) else {
        return start + if cycle == Cycle::Yearly { 365 } else { 30 } * DAY;
    };
    let (y, m) = match cycle {
        Cycle::Monthly if t.month() == Month::December => (t.year() + 1, Month::January),
        Cycle::Monthly => (t.year(), t.month().next()),
        Cycle::Yearly => (t.year() + 1, t.month()),
    };
    let last = m.length(y);
    let day = t.day().min(last);
    match Date::from_calendar_date(y, m, day) {
        Ok(d) => t.replace_date(d).unix_timestamp(),
        Err(_) => start + 30 * DAY,
    }
}

/// The unused part of what was paid for the current period, credited when
/// the customer upgrades mid-period (rounded down: never credit more than paid).
pub fn proration_credit(paid_cents: i64, period_start: i64, period_end: i64, now: i64) -> i64 {
    let total = period_end - period_start;
    if total <= 0 || now >= period_end || paid_cents <= 0 {
        return 0;
    }
    let left = (period_end - now.max(period_start)) as i128;
    ((paid_cents as i128 * left) / total as i128) as i64
}

/// What an upgrade charges now: the new period's price less the credit.
pub fn upgrade_charge(new_price: i64, credit: i64) -> i64 {
    (new_price - credit).max(0)
}

/// A plan change is an upgrade when the new plan costs more per period.
pub fn is_upgrade(current_price: i64, new_price: i64) -> bool {
    new_price > current_price
}

/// Steps of the payment-failed workflow: (step, due time).
pub fn dunning_steps(failed_at: i64) -> Vec<(String, i64)> {
    let mut steps: Vec<(String, i64)> = REMINDER_DAYS
        .iter()
        .map(|d| (format!("reminder_day{d}"), failed_at + d * DAY))
        .collect();
    steps.push(("past_due".into(), failed_at + PAST_DUE_DAY * DAY));
    steps.push(("suspend".into(), failed_at + SUSPEND_DAY * DAY));
    steps
}

/// Steps of the subscription-expiring workflow for a period ending at `end`.
pub fn expiry_steps(end: i64, now: i64) -> Vec<(String, i64)> {
    let mut steps: Vec<(String, i64)> = EXPIRY_NOTICE_DAYS
        .iter()
        .map(|d| (format!("expiring_{d}d"), end - d * DAY))
        .filter(|(_, at)| *at > now)
        .collect();
    steps.push(("renewal_check".into(), end));
    steps
}

/// Retry delay after `attempts` failures: 30 s, 1 min, 2 min, … capped at an hour.
pub fn retry_delay(attempts: i64) -> i64 {
    (30_i64 << attempts.clamp(0, 7)).min(3600)
}

/// A step gives up after this many attempts.
pub const MAX_ATTEMPTS: i64 = 5;

/// Tax on an amount in basis points (1 % = 100), rounded half up.
pub fn tax(amount_cents: i64, rate_bp: i64) -> i64 {
    (amount_cents * rate_bp + 5_000) / 10_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(y: i32, m: Month, d: u8) -> i64 {
        Date::from_calendar_date(y, m, d)
            .unwrap()
            .midnight()
            .assume_utc()
            .unix_timestamp()
    }

    #[test]
    fn periods_follow_the_calendar() {
        assert_eq!(
            period_end(ts(2026, Month::January, 15), Cycle::Monthly),
            ts(2026, Month::February, 15)
        );
        assert_eq!(
            period_end(ts(2026, Month::January, 31), Cycle::Monthly),
            ts(2026, Month::February, 28)
        );
        assert_eq!(
            period_end(ts(2028, Month::January, 31), Cycle::Monthly),
            ts(2028, Month::February, 29)
        );
        assert_eq!(
            period_end(ts(2026, Month::December, 5), Cycle::Monthly),
            ts(2027, Month::January, 5)
        );
        assert_eq!(
            period_end(ts(2028, Month::February, 29), Cycle::Yearly),
            ts(2029, Month::February, 28)
        );
    }

    #[test]
    fn proration_credits_the_unused_part_only() {
        assert_eq!(proration_credit(3000, 0, 30 * DAY, 15 * DAY), 1500);
        assert_eq!(proration_credit(3000, 0, 30 * DAY, 30 * DAY), 0);
        assert_eq!(proration_credit(3000, 0, 30 * DAY, -5), 3000);
        assert_eq!(proration_credit(999, 0, 3, 1), 666);
        assert_eq!(upgrade_charge(1499, 2000), 0);
        assert!(is_upgrade(999, 1499));
        assert!(!is_upgrade(1499, 999));
    }

    #[test]
    fn dunning_reminds_on_days_0_3_7_and_suspends_on_day_8() {
        let steps = dunning_steps(1_000);
        let names: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "reminder_day0",
                "reminder_day3",
                "reminder_day7",
                "past_due",
                "suspend"
            ]
        );
        assert_eq!(steps[4].1, 1_000 + 8 * DAY);
        let expiry = expiry_steps(100 * DAY, 95 * DAY);
        assert_eq!(expiry.len(), 2, "the 7-day notice is already past");
        assert_eq!(expiry[0], ("expiring_1d".into(), 99 * DAY));
        assert_eq!(retry_delay(0), 30);
        assert_eq!(retry_delay(20), 3600);
        assert_eq!(tax(999, 2100), 210);
    }
}
