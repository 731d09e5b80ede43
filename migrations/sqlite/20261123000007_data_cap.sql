-- Monthly data caps: the plan's cap in GB (0 = none; the free plan's seed
-- value is 10), and per user when a reached cap took effect. A capped
-- user's peers are left out of node configs until the next month starts or
-- the plan changes.
ALTER TABLE plans ADD COLUMN data_cap_gb INTEGER NOT NULL DEFAULT 0 CHECK (data_cap_gb >= 0);
UPDATE plans SET data_cap_gb = 10 WHERE bandwidth_capped = 1;
ALTER TABLE users ADD COLUMN data_capped_since INTEGER;
