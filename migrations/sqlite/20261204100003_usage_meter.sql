-- The usage meter's mails: one row per user, month (its first UTC day) and
-- kind, so the 80 % warning and the "capped" mail go once a month each.
CREATE TABLE usage_alerts (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    month_day INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('warning', 'capped')),
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, month_day, kind)
);
-- An administrator lifted the cap for the month starting that day: the
-- month's traffic no longer caps the user.
ALTER TABLE users ADD COLUMN data_cap_lifted_month INTEGER;
