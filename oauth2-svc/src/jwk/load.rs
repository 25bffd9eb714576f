//! Start-up: bootstrap each reserved key set, open every key, re-seal old ciphertexts.

use std::sync::Arc;

use anyhow::Context;
use josekit::jwk::KeyPair;
use josekit::jwk::alg::rsa::RsaKeyPair;
use service_kit::db::{Db, DbError, Id, Json};
use service_kit::settings::SecretList;

use super::cipher::KeyCipher;
use super::store::{self, KeyRow, NewKeyRow};
use super::{ALG_RS256, BOOTSTRAP_SETS, Key, KeyRing, KeyState, RSA_BITS, USE_SIG, public_jwk};

/// Additional data of a key's ciphertext: a ciphertext moved to another row does not open.
fn aad(set_id: &str, kid: &str) -> Vec<u8> {
    format!("{set_id}/{kid}").into_bytes()
}

impl KeyRing {
    /// Loads every key of the reserved sets, creating a set's first key when it has none.
    /// Fails, naming `secrets.system`, when a stored key cannot be decrypted.
    pub async fn load(db: &Db, secrets: &SecretList) -> anyhow::Result<KeyRing> {
        let cipher = Arc::new(KeyCipher::new(secrets));
        let mut keys = Vec::new();
        for &set_id in BOOTSTRAP_SETS {
            for row in ensure_set(db, &cipher, set_id).await? {
                keys.push(open(db, &cipher, row).await?);
            }
        }
        Ok(KeyRing::new(keys))
    }
}

/// The rows of `set_id`; inserts the bootstrap key first if the set is empty. Replicas that
/// start together each try to insert key 0 of the set; one wins and all re-read the winner.
async fn ensure_set(
    db: &Db,
    cipher: &Arc<KeyCipher>,
    set_id: &'static str,
) -> anyhow::Result<Vec<KeyRow>> {
    let list = move |c: &mut _| store::list(c, set_id).map_err(DbError::from);
    let rows = db.read(list).await?;
    if !rows.is_empty() {
        return Ok(rows);
    }
    let cipher = cipher.clone();
    let row = tokio::task::spawn_blocking(move || new_key_row(&cipher, set_id, 0)).await??;
    let kid = row.kid.clone();
    let inserted = db
        .write(move |c| store::insert_if_absent(c, row).map_err(DbError::from))
        .await?;
    if inserted == 1 {
        tracing::info!(
            set = set_id,
            kid,
            "created the first signing key of the key set"
        );
    }
    Ok(db.read(list).await?)
}

/// A fresh RSA key for `set_id`, sealed under the current secret, active from now.
pub(super) fn new_key_row(cipher: &KeyCipher, set_id: &str, seq: i32) -> anyhow::Result<NewKeyRow> {
    let pair = RsaKeyPair::generate(RSA_BITS)?;
    let jwk = public_jwk(&pair)?;
    let kid = jwk["kid"].as_str().unwrap_or_default().to_string();
    let sealed = cipher.seal(&pair.to_der_private_key(), &aad(set_id, &kid))?;
    let now = service_kit::db::now();
    Ok(NewKeyRow {
        id: Id::new_v7(),
        set_id: set_id.to_string(),
        seq,
        kid,
        alg: ALG_RS256.into(),
        key_use: USE_SIG.into(),
        public_jwk: Json(jwk),
        private_ciphertext: sealed.ciphertext,
        secret_fingerprint: sealed.fingerprint,
        state: "active".into(),
        active_from: now,
        created_at: now,
        updated_at: now,
    })
}

/// Decrypts a row into a [`Key`], re-sealing it under the first secret when an older one made it.
async fn open(db: &Db, cipher: &Arc<KeyCipher>, row: KeyRow) -> anyhow::Result<Key> {
    let context = || format!("signing key {} of key set {}", row.kid, row.set_id);
    anyhow::ensure!(
        row.alg == ALG_RS256 && row.key_use == USE_SIG,
        "{}: unsupported alg {} / use {}",
        context(),
        row.alg,
        row.key_use
    );
    let state = KeyState::parse(&row.state).with_context(context)?;
    let aad = aad(&row.set_id, &row.kid);
    let (der, index) = cipher
        .open(&row.secret_fingerprint, &row.private_ciphertext, &aad)
        .with_context(|| {
            format!(
                "{} cannot be decrypted with any secrets.system value; add the secret that \
                 encrypted it (fingerprint {}) back to secrets.system, after the current one",
                context(),
                row.secret_fingerprint
            )
        })?;
    let key = Key::from_der(
        &row.set_id,
        row.seq,
        &row.kid,
        state,
        row.active_from.and_utc(),
        &der,
    )
    .with_context(context)?;
    if index > 0 {
        let sealed = cipher.seal(&der, &aad)?;
        let (id, old) = (row.id, row.secret_fingerprint.clone());
        db.write(move |c| {
            store::reseal(
                c,
                id,
                &old,
                &sealed.ciphertext,
                &sealed.fingerprint,
                service_kit::db::now(),
            )
            .map_err(DbError::from)
        })
        .await?;
        tracing::info!(set = %row.set_id, kid = %row.kid, "re-encrypted the signing key under the first secrets.system value");
    }
    Ok(key)
}
