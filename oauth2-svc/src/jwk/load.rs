//! Loading keys: bootstrap each reserved key set at start, open every key, re-seal old
//! ciphertexts, and re-read the sets periodically so that every replica sees rotations.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDateTime;
use service_kit::db::{Db, DbError, Id, Json};

use super::key::{Alg, USE_SIG};
use super::store::{self, KeyRow, NewKeyRow};
use super::{BOOTSTRAP_SETS, Key, KeyRing, KeyState, Placement};
use crate::config::Settings;
use service_kit::cipher::KeyCipher;

/// Additional data of a key's ciphertext: a ciphertext moved to another row does not open.
fn aad(set_id: &str, kid: &str) -> Vec<u8> {
    format!("{set_id}/{kid}").into_bytes()
}

impl KeyRing {
    /// Loads every key, creating a reserved set's first key when it has none, and starts the
    /// periodic re-read. Fails, naming `secrets.system`, when a stored key cannot be decrypted.
    pub async fn load(db: &Db, settings: &Settings) -> anyhow::Result<KeyRing> {
        let cipher = Arc::new(KeyCipher::new(&settings.secrets.system, super::CIPHER_SALT));
        for &set_id in BOOTSTRAP_SETS {
            ensure_set(db, &cipher, set_id).await?;
        }
        let mut keys = Vec::new();
        for row in db
            .read(|c| store::list_all(c).map_err(DbError::from))
            .await?
        {
            keys.push(Arc::new(open(db, &cipher, row).await?));
        }
        let ring = KeyRing::with_clock(keys, settings.clock.clone());
        ring.spawn_reloader(db.clone(), cipher, settings.oauth2.keys.reload_interval);
        Ok(ring)
    }

    /// Re-reads every key; keys already open are kept, new ones opened, deleted ones dropped.
    /// A key that cannot be opened is logged and left out (the service keeps running).
    pub async fn reload(&self, db: &Db, cipher: &Arc<KeyCipher>) -> anyhow::Result<()> {
        let rows = db
            .read(|c| store::list_all(c).map_err(DbError::from))
            .await?;
        let current = self.snapshot();
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let known = current.iter().find(|k| {
                k.kid == row.kid
                    && k.set_id == row.set_id
                    && k.active_from.naive_utc() == row.active_from
                    && KeyState::parse(&row.state).ok() == Some(k.state)
            });
            match known {
                Some(key) => keys.push(key.clone()),
                None => match open(db, cipher, row).await {
                    Ok(key) => keys.push(Arc::new(key)),
                    Err(e) => {
                        tracing::error!(error = format!("{e:#}"), "cannot open a signing key")
                    }
                },
            }
        }
        self.replace(keys);
        Ok(())
    }

    /// Re-reads the keys every `interval` until the ring is dropped.
    fn spawn_reloader(&self, db: Db, cipher: Arc<KeyCipher>, interval: Duration) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let ring = KeyRing { inner };
                if let Err(e) = ring.reload(&db, &cipher).await {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "could not re-read the signing keys"
                    );
                }
            }
        });
    }
}

/// Inserts the bootstrap key of `set_id` if the set is empty. Replicas that start together each
/// try to insert key 0 of the set; one wins and all later read the winner.
async fn ensure_set(db: &Db, cipher: &Arc<KeyCipher>, set_id: &'static str) -> anyhow::Result<()> {
    let list = move |c: &mut _| store::list(c, set_id).map_err(DbError::from);
    if !db.read(list).await?.is_empty() {
        return Ok(());
    }
    let cipher = cipher.clone();
    let now = service_kit::db::now();
    let row = tokio::task::spawn_blocking(move || new_key_row(&cipher, set_id, 0, Alg::Rs256, now))
        .await??;
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
    Ok(())
}

/// A fresh key for `set_id`, sealed under the current secret, signing from `active_from`.
pub(super) fn new_key_row(
    cipher: &KeyCipher,
    set_id: &str,
    seq: i32,
    alg: Alg,
    active_from: NaiveDateTime,
) -> anyhow::Result<NewKeyRow> {
    let der = alg.generate()?;
    let jwk = alg.public_jwk(&der)?;
    let kid = jwk["kid"].as_str().unwrap_or_default().to_string();
    let sealed = cipher.seal(&der, &aad(set_id, &kid))?;
    let now = service_kit::db::now();
    Ok(NewKeyRow {
        id: Id::new_v7(),
        set_id: set_id.to_string(),
        seq,
        kid,
        alg: alg.name().into(),
        key_use: USE_SIG.into(),
        public_jwk: Json(jwk),
        private_ciphertext: sealed.ciphertext,
        secret_fingerprint: sealed.fingerprint,
        state: "active".into(),
        active_from,
        created_at: now,
        updated_at: now,
    })
}

/// Decrypts a row into a [`Key`], re-sealing it under the first secret when an older one made it.
async fn open(db: &Db, cipher: &Arc<KeyCipher>, row: KeyRow) -> anyhow::Result<Key> {
    let context = || format!("signing key {} of key set {}", row.kid, row.set_id);
    let alg = Alg::parse(&row.alg)
        .filter(|_| row.key_use == USE_SIG)
        .with_context(|| {
            format!(
                "{}: unsupported alg {} / use {}",
                context(),
                row.alg,
                row.key_use
            )
        })?;
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
    let placement = Placement {
        set_id: &row.set_id,
        seq: row.seq,
        state,
        active_from: row.active_from.and_utc(),
    };
    let key = Key::from_der(placement, &row.kid, alg, &der).with_context(context)?;
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
