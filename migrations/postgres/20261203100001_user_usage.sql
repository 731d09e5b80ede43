-- Per user per UTC day: the traffic that counts against a monthly data cap
-- (and the dashboard's month), kept apart from device_usage so deleting a
-- device and adding it again does not give the month back. device_usage
-- keeps the per-device history and still goes with its device.
CREATE TABLE user_usage (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    day BIGINT NOT NULL,
    rx_bytes BIGINT NOT NULL DEFAULT 0,
    tx_bytes BIGINT NOT NULL DEFAULT 0,
    connected_seconds BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);

-- What the devices that still exist counted so far (a deleted device's
-- traffic is gone already).
INSERT INTO user_usage (user_id, day, rx_bytes, tx_bytes, connected_seconds)
SELECT d.user_id, du.day, SUM(du.rx_bytes), SUM(du.tx_bytes), SUM(du.connected_seconds)
FROM device_usage du JOIN devices d ON d.id = du.device_id
GROUP BY d.user_id, du.day;
