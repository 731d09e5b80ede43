-- A plan that shrinks below what the account holds pauses the rest instead
-- of deleting it: a paused device or identity is in no node config, a
-- paused camera is not pulled or viewed; a bigger plan resumes them with
-- the same keys and addresses. `kept_rank` is the user's own choice of what
-- to keep (higher: chosen more recently), which comes before "most recently
-- used" when the plan decides.
ALTER TABLE devices ADD COLUMN paused_at BIGINT;
ALTER TABLE devices ADD COLUMN kept_rank BIGINT;
ALTER TABLE cameras ADD COLUMN paused_at BIGINT;
ALTER TABLE cameras ADD COLUMN kept_rank BIGINT;
