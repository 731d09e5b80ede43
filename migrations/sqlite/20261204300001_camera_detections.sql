-- Events the cameras report themselves (ONVIF: motion, person, vehicle,
-- sound) next to the gateway's online/offline. SQLite cannot change a
-- CHECK, so the table is rebuilt (nothing references it yet).
CREATE TABLE camera_events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    camera_id INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('online', 'offline', 'motion', 'person', 'vehicle', 'sound')),
    at INTEGER NOT NULL
);
INSERT INTO camera_events_new (id, camera_id, user_id, kind, at)
    SELECT id, camera_id, user_id, kind, at FROM camera_events;
DROP TABLE camera_events;
ALTER TABLE camera_events_new RENAME TO camera_events;
CREATE INDEX camera_events_camera_at ON camera_events(camera_id, at);
CREATE INDEX camera_events_user_at ON camera_events(user_id, at);

-- The snapshot the gateway took at an event (size-capped by the gateway
-- and again by the portal), apart so listing events never reads images.
CREATE TABLE camera_event_thumbnails (
    event_id INTEGER PRIMARY KEY REFERENCES camera_events(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL
);

-- Who gets mailed about which events. No row: no mail.
CREATE TABLE camera_notify_prefs (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    all_cameras INTEGER NOT NULL DEFAULT 1,
    -- Minutes after midnight UTC; both set or both NULL. from > to wraps midnight.
    quiet_from INTEGER CHECK (quiet_from BETWEEN 0 AND 1439),
    quiet_to INTEGER CHECK (quiet_to BETWEEN 0 AND 1439)
);
CREATE TABLE camera_notify_kinds (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('online', 'offline', 'motion', 'person', 'vehicle', 'sound')),
    PRIMARY KEY (user_id, kind)
);
CREATE TABLE camera_notify_cameras (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    camera_id INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, camera_id)
);
-- The last mail per camera: at most one per 10 minutes, on every instance.
CREATE TABLE camera_notify_sent (
    camera_id INTEGER PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
    last_at INTEGER NOT NULL
);
