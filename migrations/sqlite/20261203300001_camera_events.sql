-- What happened to each camera, as its gateway saw it: for now `online`
-- (a pull started) and `offline` (the camera stopped answering). Kept with
-- the owner's id so the events page reads one user's rows by index.
CREATE TABLE camera_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    camera_id INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('online', 'offline')),
    at INTEGER NOT NULL
);
CREATE INDEX camera_events_camera_at ON camera_events(camera_id, at);
CREATE INDEX camera_events_user_at ON camera_events(user_id, at);
