-- Signing keys, grouped in key sets (Hydra's `hydra.openid.id-token`, …). `seq` orders the keys
-- of a set: the bootstrap key is 0, so replicas starting together conflict on (set_id, seq) and
-- agree on one key. The private key is AES-256-GCM ciphertext under a secrets.system value,
-- named by `secret_fingerprint` (never the secret itself).
CREATE TABLE oauth2_jwk (
    id TEXT PRIMARY KEY NOT NULL,
    set_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kid TEXT NOT NULL UNIQUE,
    alg TEXT NOT NULL,
    "use" TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    private_ciphertext TEXT NOT NULL,
    secret_fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    active_from TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (set_id, seq)
);
