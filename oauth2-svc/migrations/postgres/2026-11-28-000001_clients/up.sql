CREATE TABLE oauth2_clients (
    id uuid PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    client_name TEXT NOT NULL,
    owner TEXT NOT NULL,
    secret_hash TEXT,
    metadata jsonb NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth2_clients_owner_idx ON oauth2_clients (owner);
