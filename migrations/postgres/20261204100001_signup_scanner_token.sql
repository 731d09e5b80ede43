-- The scanner token made at sign-up, sealed with the portal's encryption key
-- until its owner asks to see it once (then erased): the token itself is
-- still only checked by its hash.
ALTER TABLE scanner_tokens ADD COLUMN token_sealed TEXT;
