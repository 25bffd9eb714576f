-- A used ID token is bound to the flow it was first submitted to: that flow may take the same
-- token again until it completes (a missing trait, a lost answer); any other flow is refused.
-- The key is now a plain SHA-256 of the token's JWS signing input (header.payload), so neither a
-- re-encoded signature nor a rotated secret makes a used token new. Older rows (keyed hashes)
-- simply expire.
ALTER TABLE oidc_used_id_tokens ADD COLUMN flow_id uuid;
