//! The ID token claims a consent grants (OIDC Core §5.4), from the identity's traits and
//! verified addresses: `email` → `email`, `email_verified`; `profile` → `name`, `given_name`,
//! `family_name`; `phone` → `phone_number`, `phone_number_verified`; `address` → `address`.
//! Nothing beyond the granted scopes, and nothing a trait does not hold.

use serde_json::{Map, Value};
use shared_types::identity::Identity;

/// The OIDC `address` members a trait object may carry under the same names.
const ADDRESS_MEMBERS: [&str; 6] = [
    "formatted",
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];

fn text(value: &Value) -> Option<&str> {
    value.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// Whether identity-svc verified `value` (compared without case for email addresses).
fn verified(identity: &Identity, via: &str, value: &str) -> bool {
    identity.verifiable_addresses.iter().any(|a| {
        a.verified && a.via.eq_ignore_ascii_case(via) && a.value.eq_ignore_ascii_case(value)
    })
}

pub fn claims(identity: &Identity, scope: &[String]) -> Map<String, Value> {
    let granted = |s: &str| scope.iter().any(|g| g == s);
    let traits = &identity.traits;
    let mut out = Map::new();
    if granted("email")
        && let Some(email) = text(&traits["email"])
    {
        out.insert("email".into(), email.into());
        out.insert(
            "email_verified".into(),
            verified(identity, "email", email).into(),
        );
    }
    if granted("profile") {
        profile(&traits["name"], &mut out);
    }
    if granted("phone")
        && let Some(phone) = text(&traits["phone"]).or_else(|| text(&traits["phone_number"]))
    {
        out.insert("phone_number".into(), phone.into());
        out.insert(
            "phone_number_verified".into(),
            verified(identity, "sms", phone).into(),
        );
    }
    if granted("address") {
        let address = match &traits["address"] {
            Value::String(s) if !s.trim().is_empty() => {
                Some(Map::from_iter([("formatted".into(), s.trim().into())]))
            }
            Value::Object(parts) => {
                let picked: Map<String, Value> = ADDRESS_MEMBERS
                    .iter()
                    .filter_map(|k| {
                        parts
                            .get(*k)
                            .and_then(text)
                            .map(|v| ((*k).to_owned(), v.into()))
                    })
                    .collect();
                (!picked.is_empty()).then_some(picked)
            }
            _ => None,
        };
        if let Some(address) = address {
            out.insert("address".into(), Value::Object(address));
        }
    }
    out
}

/// `name: {first, last}` (the default schema) or a plain `name` string.
fn profile(name: &Value, out: &mut Map<String, Value>) {
    if let Some(full) = text(name) {
        out.insert("name".into(), full.into());
        return;
    }
    let first = text(&name["first"]);
    let last = text(&name["last"]);
    if let Some(first) = first {
        out.insert("given_name".into(), first.into());
    }
    if let Some(last) = last {
        out.insert("family_name".into(), last.into());
    }
    let full: Vec<&str> = [first, last].into_iter().flatten().collect();
    if !full.is_empty() {
        out.insert("name".into(), full.join(" ").into());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn identity(traits: Value, addresses: Value) -> Identity {
        serde_json::from_value(json!({
            "id": "0190b6b4-6c6f-7000-8000-000000000001", "schema_id": "default", "schema_url": "http://x/schemas/ZGVmYXVsdA",
            "state": "active", "traits": traits, "verifiable_addresses": addresses,
            "recovery_addresses": [], "metadata_public": null,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    fn address(value: &str, via: &str, verified: bool) -> Value {
        json!({"id": "0190b6b4-6c6f-7000-8000-000000000002", "value": value, "verified": verified,
            "via": via, "status": "completed", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"})
    }

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    fn ada(verified: bool) -> Identity {
        identity(
            json!({"email": "ada@example.com", "name": {"first": "Ada", "last": "Lovelace"},
                   "phone": "+441234567890", "address": {"locality": "London", "country": "GB", "secret": "x"}}),
            json!([
                address("ADA@example.com", "email", verified),
                address("+441234567890", "sms", true)
            ]),
        )
    }

    #[test]
    fn every_scope_gives_its_claims() {
        let all = claims(
            &ada(true),
            &scopes(&["openid", "email", "profile", "phone", "address"]),
        );
        assert_eq!(all["email"], "ada@example.com");
        assert_eq!(all["email_verified"], true);
        assert_eq!(all["given_name"], "Ada");
        assert_eq!(all["family_name"], "Lovelace");
        assert_eq!(all["name"], "Ada Lovelace");
        assert_eq!(all["phone_number"], "+441234567890");
        assert_eq!(all["phone_number_verified"], true);
        assert_eq!(
            all["address"],
            json!({"locality": "London", "country": "GB"})
        );
        assert_eq!(all.len(), 8);
    }

    #[test]
    fn nothing_beyond_the_granted_scopes() {
        assert!(claims(&ada(true), &scopes(&["openid", "offline_access"])).is_empty());
        let email = claims(&ada(false), &scopes(&["email"]));
        assert_eq!(email.len(), 2);
        assert_eq!(email["email_verified"], false);
        let phone = claims(&ada(true), &scopes(&["phone"]));
        assert_eq!(
            phone.keys().collect::<Vec<_>>(),
            ["phone_number", "phone_number_verified"]
        );
    }

    #[test]
    fn an_unverified_or_other_address_does_not_verify_the_email() {
        let other = identity(
            json!({"email": "ada@example.com"}),
            json!([address("bob@example.com", "email", true)]),
        );
        assert_eq!(claims(&other, &scopes(&["email"]))["email_verified"], false);
        let sms_only = identity(
            json!({"email": "ada@example.com", "phone": "+44"}),
            json!([address("+44", "sms", false)]),
        );
        let c = claims(&sms_only, &scopes(&["phone"]));
        assert_eq!(c["phone_number_verified"], false);
    }

    #[test]
    fn missing_traits_give_no_claims_and_plain_strings_work() {
        let bare = identity(json!({"email": ""}), json!([]));
        assert!(claims(&bare, &scopes(&["email", "profile", "phone", "address"])).is_empty());
        let plain = identity(
            json!({"email": "a@b.example", "name": "Ada L.", "address": "1 Main St"}),
            json!([]),
        );
        let c = claims(&plain, &scopes(&["profile", "address"]));
        assert_eq!(c["name"], "Ada L.");
        assert!(!c.contains_key("given_name"));
        assert_eq!(c["address"], json!({"formatted": "1 Main St"}));
    }
}
