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

/// A step of the payment-failed workflow, stored as `reminder_day3`,
/// `past_due`, `suspend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum DunningStep {
    /// A reminder mail `day` days after the failure.
    Reminder {
        day: i64,
    },
    PastDue,
    Suspend,
}

/// A step of the subscription-expiring workflow, stored as `expiring_7d`,
/// `renewal_check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ExpiryStep {
    /// A notice `days` days before a period that will not renew ends.
    Expiring {
        days: i64,
    },
    RenewalCheck,
}

impl std::fmt::Display for DunningStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Reminder { day } => write!(f, "reminder_day{day}"),
            Self::PastDue => f.write_str("past_due"),
            Self::Suspend => f.write_str("suspend"),
        }
    }
}

impl std::str::FromStr for DunningStep {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "past_due" => Ok(Self::PastDue),
            "suspend" => Ok(Self::Suspend),
            _ => s
                .strip_prefix("reminder_day")
                .and_then(|d| d.parse().ok())
                .map(|day| Self::Reminder { day })
                .ok_or_else(|| format!("no dunning step {s}")),
        }
    }
}

impl std::fmt::Display for ExpiryStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Expiring { days } => write!(f, "expiring_{days}d"),
            Self::RenewalCheck => f.write_str("renewal_check"),
        }
    }
}

impl std::str::FromStr for ExpiryStep {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "renewal_check" => Ok(Self::RenewalCheck),
            _ => s
                .strip_prefix("expiring_")
                .and_then(|d| d.strip_suffix('d'))
                .and_then(|d| d.parse().ok())
                .map(|days| Self::Expiring { days })
                .ok_or_else(|| format!("no expiry step {s}")),
        }
    }
}

macro_rules! string_step {
    ($($ty:ty),*) => {$(
        impl From<$ty> for String {
            fn from(step: $ty) -> String {
                step.to_string()
            }
        }
        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }
    )*};
}
string_step!(DunningStep, ExpiryStep);

/// Steps of the payment-failed workflow: (step, due time).
pub fn dunning_steps(failed_at: i64) -> Vec<(DunningStep, i64)> {
    let mut steps: Vec<(DunningStep, i64)> = REMINDER_DAYS
        .iter()
        .map(|&day| (DunningStep::Reminder { day }, failed_at + day * DAY))
        .collect();
    steps.push((DunningStep::PastDue, failed_at + PAST_DUE_DAY * DAY));
    steps.push((DunningStep::Suspend, failed_at + SUSPEND_DAY * DAY));
    steps
}

/// Steps of the subscription-expiring workflow for a period ending at `end`.
pub fn expiry_steps(end: i64, now: i64) -> Vec<(ExpiryStep, i64)> {
    let mut steps: Vec<(ExpiryStep, i64)> = EXPIRY_NOTICE_DAYS
        .iter()
        .map(|&days| (ExpiryStep::Expiring { days }, end - days * DAY))
        .filter(|(_, at)| *at > now)
        .collect();
    steps.push((ExpiryStep::RenewalCheck, end));
    steps
}

/// Tax on an amount in basis points (1 % = 100), rounded half up.
pub fn tax(amount_cents: i64, rate_bp: i64) -> i64 {
    (amount_cents * rate_bp + 5_000) / 10_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::retry_delay;

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
        let names: Vec<String> = steps.iter().map(|(s, _)| s.to_string()).collect();
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
        assert_eq!(
            (expiry[0].0.to_string(), expiry[0].1),
            ("expiring_1d".into(), 99 * DAY)
        );
        assert_eq!(retry_delay(0), 30);
        assert_eq!(retry_delay(20), 3600);
        assert_eq!(tax(999, 2100), 210);
    }
}
