-- Events the cameras report themselves (ONVIF: motion, person, vehicle,
-- sound) next to the gateway's online/offline.
ALTER TABLE camera_events DROP CONSTRAINT camera_events_kind_check;
ALTER TABLE camera_events ADD CONSTRAINT camera_events_kind_check
    CHECK (kind IN ('online', 'offline', 'motion', 'person', 'vehicle', 'sound'));

-- The snapshot the gateway took at an event (size-capped by the gateway
-- and again by the portal), apart so listing events never reads images.
CREATE TABLE camera_event_thumbnails (
    event_id BIGINT PRIMARY KEY REFERENCES camera_events(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data BYTEA NOT NULL
);

-- Who gets mailed about which events. No row: no mail.
CREATE TABLE camera_notify_prefs (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    all_cameras BIGINT NOT NULL DEFAULT 1,
    -- Minutes after midnight UTC; both set or both NULL. from > to wraps midnight.
    quiet_from BIGINT CHECK (quiet_from BETWEEN 0 AND 1439),
    quiet_to BIGINT CHECK (quiet_to BETWEEN 0 AND 1439)
);
CREATE TABLE camera_notify_kinds (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('online', 'offline', 'motion', 'person', 'vehicle', 'sound')),
    PRIMARY KEY (user_id, kind)
);
CREATE TABLE camera_notify_cameras (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    camera_id BIGINT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, camera_id)
);
-- The last mail per camera: at most one per 10 minutes, on every instance.
CREATE TABLE camera_notify_sent (
    camera_id BIGINT PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
    last_at BIGINT NOT NULL
);
