-- A regional identity made at sign-up reserves its server and address but
-- has no key anyone holds: it waits (since this time) for the user to set
-- it up on a device with a key made there. Until then it is left out of
-- node configs, so no node carries a peer nobody can use. NULL for every
-- device with a real key.
ALTER TABLE devices ADD COLUMN awaiting_key_since BIGINT;
