-- Brute-force counters of password sign-in (see src/throttle), shared by all replicas. One row per
-- throttled key: a keyed hash (HMAC-SHA256 under secrets.cookie) of a normalised identifier or of
-- a client address, never the identifier or address itself. `failures` counts attempts in the
-- window that began at `window_start` (an attempt counts until it succeeds); past the limit the key
-- is refused until `locked_until`. The janitor deletes rows whose window and lock are long over.
CREATE TABLE login_throttle (
    key_hash TEXT PRIMARY KEY,
    window_start TIMESTAMP NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP
);
CREATE INDEX login_throttle_window_start_idx ON login_throttle (window_start);
