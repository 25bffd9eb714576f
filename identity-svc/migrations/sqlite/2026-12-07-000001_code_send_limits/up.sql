-- Counters of codes sent by the recovery and verification flows (see src/flow/code/limits.rs),
-- shared by all replicas. One row per counted key: a keyed hash (HMAC-SHA256 under
-- secrets.cookie) of the flow kind and either the normalised address typed or the flow id, never
-- the address itself. `sends` counts the codes asked for in the window that began at
-- `window_start`. The janitor deletes rows whose window is over.
CREATE TABLE code_send_limits (
    key_hash TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    sends INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX code_send_limits_window_start_idx ON code_send_limits (window_start);
