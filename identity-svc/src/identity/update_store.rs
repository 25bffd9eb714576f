//! SQL for changing an identity: one transaction that checks uniqueness against other
//! identities, applies only if the identity is unchanged since it was read (compare-and-set on
//! `updated_at`), rewrites the rows that follow the traits, and, when the identity was
//! deactivated, revokes its sessions and queues the lifecycle notice.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id};

use super::update::UpdatePlan;
use crate::db::schema::{
    identities, identity_credential_identifiers, identity_credentials, identity_recovery_addresses,
    identity_verifiable_addresses,
};
use crate::outbox::MessageRow;

/// Whether the write applied.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The identity changed (or went away) since it was read; read it again and retry.
    Stale,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("an identity with the credential identifier {0:?} already exists")]
    Identifier(String),
    #[error("an identity with this external_id already exists")]
    ExternalId,
    #[error("another identity already has the address {0:?}")]
    Address(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

pub fn update(
    conn: &mut AnyConnection,
    plan: &UpdatePlan,
    notice: Option<&MessageRow>,
) -> Result<Outcome, UpdateError> {
    conn.transaction(|conn| {
        check_conflicts(conn, plan)?;
        let row = &plan.record.identity;
        let changed = diesel::update(
            identities::table
                .filter(identities::id.eq(row.id))
                .filter(identities::updated_at.eq(plan.expected_updated_at)),
        )
        .set((
            identities::schema_id.eq(&row.schema_id),
            identities::state.eq(&row.state),
            identities::state_changed_at.eq(row.state_changed_at),
            identities::traits.eq(&row.traits),
            identities::metadata_public.eq(&row.metadata_public),
            identities::metadata_admin.eq(&row.metadata_admin),
            identities::external_id.eq(&row.external_id),
            identities::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Ok(Outcome::Stale);
        }
        write_addresses(conn, plan)?;
        write_password(conn, plan)?;
        if plan.deactivated {
            crate::session::store::revoke_all_of(conn, row.id, row.updated_at)?;
            if let Some(notice) = notice {
                crate::outbox::store::insert(conn, notice)?;
            }
        }
        Ok(Outcome::Applied)
    })
}

fn check_conflicts(conn: &mut AnyConnection, plan: &UpdatePlan) -> Result<(), UpdateError> {
    let id = plan.record.identity.id;
    if let Some(external_id) = &plan.record.identity.external_id {
        let taken: i64 = identities::table
            .filter(identities::external_id.eq(external_id))
            .filter(identities::id.ne(id))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(UpdateError::ExternalId);
        }
    }
    for (credential, identifiers) in &plan.record.credentials {
        let values: Vec<&str> = identifiers.iter().map(|i| i.identifier.as_str()).collect();
        let taken: Option<String> = identity_credential_identifiers::table
            .filter(
                identity_credential_identifiers::credential_type.eq(&credential.credential_type),
            )
            .filter(identity_credential_identifiers::identifier.eq_any(values))
            .filter(identity_credential_identifiers::identity_id.ne(id))
            .select(identity_credential_identifiers::identifier)
            .first(conn)
            .optional()?;
        if let Some(taken) = taken {
            return Err(UpdateError::Identifier(taken));
        }
    }
    for address in &plan.record.verifiable {
        let taken: i64 = identity_verifiable_addresses::table
            .filter(identity_verifiable_addresses::via.eq(&address.via))
            .filter(identity_verifiable_addresses::value.eq(&address.value))
            .filter(identity_verifiable_addresses::identity_id.ne(id))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(UpdateError::Address(address.value.clone()));
        }
    }
    for address in &plan.record.recovery {
        let taken: i64 = identity_recovery_addresses::table
            .filter(identity_recovery_addresses::via.eq(&address.via))
            .filter(identity_recovery_addresses::value.eq(&address.value))
            .filter(identity_recovery_addresses::identity_id.ne(id))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(UpdateError::Address(address.value.clone()));
        }
    }
    Ok(())
}

/// Addresses no longer in the traits go; kept ones get their (possibly new) verification; new
/// ones are inserted.
fn write_addresses(conn: &mut AnyConnection, plan: &UpdatePlan) -> QueryResult<()> {
    let id = plan.record.identity.id;
    diesel::delete(
        identity_verifiable_addresses::table
            .filter(identity_verifiable_addresses::identity_id.eq(id))
            .filter(identity_verifiable_addresses::id.ne_all(plan.kept_verifiable.clone())),
    )
    .execute(conn)?;
    for address in &plan.record.verifiable {
        if plan.kept_verifiable.contains(&address.id) {
            diesel::update(identity_verifiable_addresses::table.find(address.id))
                .set((
                    identity_verifiable_addresses::verified.eq(address.verified),
                    identity_verifiable_addresses::status.eq(&address.status),
                    identity_verifiable_addresses::verified_at.eq(address.verified_at),
                    identity_verifiable_addresses::updated_at.eq(address.updated_at),
                ))
                .execute(conn)?;
        } else {
            diesel::insert_into(identity_verifiable_addresses::table)
                .values(address.clone())
                .execute(conn)?;
        }
    }
    diesel::delete(
        identity_recovery_addresses::table
            .filter(identity_recovery_addresses::identity_id.eq(id))
            .filter(identity_recovery_addresses::id.ne_all(plan.kept_recovery.clone())),
    )
    .execute(conn)?;
    for address in &plan.record.recovery {
        if !plan.kept_recovery.contains(&address.id) {
            diesel::insert_into(identity_recovery_addresses::table)
                .values(address.clone())
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The password credential as planned: its identifiers replaced, its row updated, inserted, or
/// (when the traits no longer have an identifier) deleted.
fn write_password(conn: &mut AnyConnection, plan: &UpdatePlan) -> QueryResult<()> {
    let id = plan.record.identity.id;
    diesel::delete(
        identity_credential_identifiers::table
            .filter(identity_credential_identifiers::identity_id.eq(id))
            .filter(identity_credential_identifiers::credential_type.eq("password")),
    )
    .execute(conn)?;
    let Some((credential, identifiers)) = plan
        .record
        .credentials
        .iter()
        .find(|(c, _)| c.credential_type == "password")
    else {
        diesel::delete(
            identity_credentials::table
                .filter(identity_credentials::identity_id.eq(id))
                .filter(identity_credentials::credential_type.eq("password")),
        )
        .execute(conn)?;
        return Ok(());
    };
    let updated = diesel::update(identity_credentials::table.find(credential.id))
        .set((
            identity_credentials::config.eq(&credential.config),
            identity_credentials::updated_at.eq(credential.updated_at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(identity_credentials::table)
            .values(credential.clone())
            .execute(conn)?;
    }
    for identifier in identifiers {
        diesel::insert_into(identity_credential_identifiers::table)
            .values(identifier.clone())
            .execute(conn)?;
    }
    Ok(())
}

/// Replaces a password hash by a new one (the argon2id rehash after a sign-in with an imported
/// or outdated hash), only if the credential still holds `old`: a password changed meanwhile
/// is never overwritten. Returns whether it replaced.
pub fn rehash_password(
    conn: &mut AnyConnection,
    identity_id: Id,
    old: &str,
    new: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let stored: Option<(Id, Option<service_kit::db::Json>)> = identity_credentials::table
            .filter(identity_credentials::identity_id.eq(identity_id))
            .filter(identity_credentials::credential_type.eq("password"))
            .select((identity_credentials::id, identity_credentials::config))
            .first(conn)
            .optional()?;
        let Some((credential_id, config)) = stored else {
            return Ok(false);
        };
        if crate::credential::PasswordConfig::hashed_password(config.clone()).as_deref()
            != Some(old)
        {
            return Ok(false);
        }
        let new_config = crate::credential::PasswordConfig {
            hashed_password: new.to_string(),
        }
        .to_json();
        let changed = diesel::update(
            identity_credentials::table
                .find(credential_id)
                .filter(identity_credentials::config.eq(config)),
        )
        .set((
            identity_credentials::config.eq(Some(new_config)),
            identity_credentials::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(changed == 1)
    })
}
