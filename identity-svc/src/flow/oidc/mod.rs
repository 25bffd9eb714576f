//! The `oidc` method: sign-in and registration through upstream OpenID Connect providers
//! (Kratos' `selfservice.methods.oidc`). This module owns the settings, the provider buttons
//! (`oidc` group nodes) and the per-flow state kept in the flows' `internal_context`.
//!
//! Kratos maps claims to traits with a Jsonnet `mapper_url`; Olympus has a small declarative
//! mapping instead (`mapper`, see docs/moving-from-kratos.md).

pub mod callback;
pub mod exchange;
pub mod idtoken;
pub mod link;
pub mod native;
pub mod outcome;
pub mod settings;
pub mod start;
pub mod store;
pub mod text;
pub mod upstream;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use service_kit::settings::{Secret, SettingsError};
use shared_types::flow::{UiNode, UiNodeAttributes, UiNodeMeta};
use url::Url;

pub use upstream::Upstreams;

/// The flows' `internal_context` key of this method.
pub const CONTEXT_KEY: &str = "oidc";
/// The credential type and the session's authentication method.
pub const METHOD: &str = "oidc";

/// `selfservice.methods.oidc.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct OidcMethodSettings {
    pub enabled: bool,
    pub config: OidcSettings,
}

/// `selfservice.methods.oidc.config.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The base of the callback URLs registered at the providers; the public URL when unset.
    #[serde(default)]
    pub base_redirect_uri: Option<String>,
    #[serde(default)]
    pub providers: Vec<ProviderSettings>,
    /// How long a session token exchange code lives (from the api flow's start, and again from
    /// the browser's return to the app).
    #[serde(
        default = "exchange_lifespan",
        with = "service_kit::settings::duration"
    )]
    pub session_token_exchange_lifespan: std::time::Duration,
}

fn exchange_lifespan() -> std::time::Duration {
    std::time::Duration::from_secs(600)
}

impl Default for OidcSettings {
    fn default() -> Self {
        OidcSettings {
            base_redirect_uri: None,
            providers: Vec::new(),
            session_token_exchange_lifespan: exchange_lifespan(),
        }
    }
}

/// One upstream provider (`selfservice.methods.oidc.config.providers[]`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub id: String,
    /// Only `generic` (any OpenID Connect provider found by discovery).
    #[serde(default = "generic")]
    pub provider: String,
    #[serde(default)]
    pub label: Option<String>,
    pub client_id: String,
    pub client_secret: Secret,
    pub issuer_url: String,
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub pkce: Pkce,
    #[serde(default)]
    pub claims_source: ClaimsSource,
    #[serde(default)]
    pub mapper: Mapper,
    /// Audiences accepted besides `client_id` in ID tokens that native apps submit (the client
    /// ids of the apps' own registrations at the provider), as Kratos' key of this name.
    #[serde(default)]
    pub additional_id_token_audiences: Vec<String>,
}

fn generic() -> String {
    "generic".into()
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Pkce {
    /// PKCE (S256) when the provider's discovery document lists `S256` in
    /// `code_challenge_methods_supported`, else none (Kratos' meaning).
    Auto,
    #[default]
    Force,
    Never,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClaimsSource {
    #[default]
    IdToken,
    Userinfo,
}

/// Claims → traits: `traits` maps a trait path (`name.first`) to a claim path (`given_name`);
/// addresses equal to a mapped trait are verified when the claim `verified_addresses_from`
/// (`email_verified`) is `true`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mapper {
    #[serde(default)]
    pub traits: BTreeMap<String, String>,
    #[serde(default)]
    pub verified_addresses_from: Option<String>,
}

impl Default for Mapper {
    fn default() -> Self {
        Mapper {
            traits: BTreeMap::from([
                ("email".into(), "email".into()),
                ("name.first".into(), "given_name".into()),
                ("name.last".into(), "family_name".into()),
            ]),
            verified_addresses_from: Some("email_verified".into()),
        }
    }
}

impl Mapper {
    /// The traits the claims give. Only string, number and boolean claims are used; a trait path
    /// that would cross a value that is not an object is skipped.
    pub fn traits(&self, claims: &serde_json::Value) -> serde_json::Value {
        let mut traits = serde_json::json!({});
        for (trait_path, claim_path) in &self.traits {
            let Some(value) = lookup(claims, claim_path).filter(|v| is_scalar(v)) else {
                continue;
            };
            let segments: Vec<&str> = trait_path.split('.').collect();
            let (last, parents) = segments.split_last().expect("split yields one segment");
            let mut at = Some(&mut traits);
            for segment in parents {
                at = at
                    .and_then(serde_json::Value::as_object_mut)
                    .map(|o| o.entry(*segment).or_insert_with(|| serde_json::json!({})));
            }
            if let Some(object) = at.and_then(serde_json::Value::as_object_mut) {
                object.insert((*last).into(), value.clone());
            }
        }
        traits
    }

    /// Whether the provider vouches for the addresses it gave.
    pub fn addresses_verified(&self, claims: &serde_json::Value) -> bool {
        self.verified_addresses_from
            .as_deref()
            .and_then(|path| lookup(claims, path))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    }

    /// The claim values the provider vouches for: empty unless the `verified_addresses_from`
    /// claim is `true`; then the mapped claims it names (`email_verified` vouches for the
    /// `email` claim; a name without the `_verified` suffix vouches for every mapped claim).
    pub fn verified_values(&self, claims: &serde_json::Value) -> Vec<String> {
        let Some(flag) = self.verified_addresses_from.as_deref() else {
            return Vec::new();
        };
        if !self.addresses_verified(claims) {
            return Vec::new();
        }
        let vouched = flag.strip_suffix("_verified");
        self.traits
            .values()
            .filter(|claim| vouched.is_none_or(|v| *claim == v))
            .filter_map(|claim| lookup(claims, claim))
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }
}

fn is_scalar(value: &serde_json::Value) -> bool {
    value.is_string() || value.is_number() || value.is_boolean()
}

fn lookup<'a>(value: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.')
        .try_fold(value, |at, segment| at.get(segment))
}

/// The validated method configuration.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    pub enabled: bool,
    pub providers: Vec<ProviderSettings>,
    /// Callback URLs are `<base>/self-service/methods/oidc/callback/<id>`.
    pub base_redirect_uri: Option<Url>,
    /// `session_token_exchange_lifespan`.
    pub exchange_lifespan: chrono::Duration,
}

impl OidcMethodSettings {
    pub fn validate(&self) -> Result<OidcConfig, SettingsError> {
        let key = "selfservice.methods.oidc.config";
        let base_redirect_uri = self
            .config
            .base_redirect_uri
            .as_deref()
            .map(Url::parse)
            .transpose()
            .map_err(|e| {
                SettingsError::invalid(format!("{key}.base_redirect_uri"), e.to_string())
            })?;
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in self.config.providers.iter().enumerate() {
            let at = |field: &str| format!("{key}.providers[{i}].{field}");
            let id_ok = !p.id.is_empty()
                && p.id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !id_ok || !seen.insert(p.id.clone()) {
                return Err(SettingsError::invalid(
                    at("id"),
                    "must be a unique, non-empty name of letters, digits, - and _",
                ));
            }
            if p.provider != "generic" {
                return Err(SettingsError::invalid(
                    at("provider"),
                    "only `generic` (discovery from issuer_url) is supported",
                ));
            }
            if p.client_id.is_empty() {
                return Err(SettingsError::invalid(at("client_id"), "is required"));
            }
            Url::parse(&p.issuer_url)
                .map_err(|e| SettingsError::invalid(at("issuer_url"), e.to_string()))?;
        }
        Ok(OidcConfig {
            enabled: self.enabled,
            providers: self.config.providers.clone(),
            base_redirect_uri,
            exchange_lifespan: chrono::Duration::from_std(
                self.config.session_token_exchange_lifespan,
            )
            .map_err(|e| {
                SettingsError::invalid(
                    format!("{key}.session_token_exchange_lifespan"),
                    e.to_string(),
                )
            })?,
        })
    }
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            enabled: false,
            providers: Vec::new(),
            base_redirect_uri: None,
            exchange_lifespan: chrono::Duration::minutes(10),
        }
    }
}

impl OidcConfig {
    /// The enabled method's provider with this id.
    pub fn provider(&self, id: &str) -> Option<&ProviderSettings> {
        self.enabled
            .then(|| self.providers.iter().find(|p| p.id == id))
            .flatten()
    }

    pub fn redirect_uri(&self, public: &Url, provider: &str) -> String {
        let base = self.base_redirect_uri.as_ref().unwrap_or(public);
        format!(
            "{}/self-service/methods/oidc/callback/{provider}",
            base.as_str().trim_end_matches('/')
        )
    }
}

/// Where the buttons are shown; each has its own label.
#[derive(Clone, Copy)]
pub enum Purpose {
    Login,
    Registration,
    Link,
    Unlink,
}

/// One `provider` submit button per provider (Kratos' node shape), for `purpose`.
pub fn provider_node(provider: &ProviderSettings, purpose: Purpose) -> UiNode {
    let label = provider
        .label
        .clone()
        .unwrap_or_else(|| provider.id.clone());
    let (name, label) = match purpose {
        Purpose::Login => ("provider", text::sign_in_with(&label, &provider.id)),
        Purpose::Registration => ("provider", text::sign_up_with(&label, &provider.id)),
        Purpose::Link => ("link", text::link(&label, &provider.id)),
        Purpose::Unlink => ("unlink", text::unlink(&label, &provider.id)),
    };
    UiNode {
        node_type: "input".into(),
        group: "oidc".into(),
        attributes: UiNodeAttributes {
            name: Some(name.into()),
            input_type: Some("submit".into()),
            value: Some(serde_json::Value::String(provider.id.clone())),
            required: None,
            autocomplete: None,
            disabled: false,
            node_type: "input".into(),
            ..Default::default()
        },
        messages: Vec::new(),
        meta: UiNodeMeta { label: Some(label) },
    }
}

/// Appends the login or registration buttons (none when the method is off).
pub fn extend_nodes(config: &OidcConfig, nodes: &mut Vec<UiNode>, purpose: Purpose) {
    if !config.enabled {
        return;
    }
    nodes.extend(config.providers.iter().map(|p| provider_node(p, purpose)));
}

/// The login flow as Kratos shows it, with this method's buttons.
pub fn login_wire(
    state: &crate::state::AppState,
    row: &crate::flow::login::store::LoginFlowRow,
    masked_csrf: Option<String>,
) -> shared_types::flow::LoginFlow {
    let mut flow = crate::flow::login::to_wire(row, &state.settings.public_url, masked_csrf);
    // A step-up (aal2) flow offers second factors only.
    if row.requested_aal != "aal2" {
        extend_nodes(
            &state.settings.flows.oidc,
            &mut flow.ui.nodes,
            Purpose::Login,
        );
    }
    crate::flow::login::identifier_first::shape(state, row, &mut flow);
    flow
}

/// Whether a submission asks for this method: `method=oidc`, or a `provider` button pressed in a
/// UI that sends no `method`.
pub fn submitted(submission: &crate::flow::submit::Submission) -> bool {
    match submission.get("method") {
        Some(method) => method == METHOD,
        None => submission.non_empty("provider").is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_claims_to_nested_traits() {
        let claims =
            serde_json::json!({"email": "a@b.test", "given_name": "Ada", "email_verified": true});
        let mapper = Mapper::default();
        assert_eq!(
            mapper.traits(&claims),
            serde_json::json!({"email": "a@b.test", "name": {"first": "Ada"}})
        );
        assert!(mapper.addresses_verified(&claims));
        assert!(!mapper.addresses_verified(&serde_json::json!({"email_verified": "true"})));
        assert_eq!(
            mapper.verified_values(&claims),
            vec!["a@b.test".to_string()]
        );
        let unverified = serde_json::json!({"email": "a@b.test", "email_verified": false});
        assert!(mapper.verified_values(&unverified).is_empty());
    }

    #[test]
    fn paths_crossing_a_scalar_and_structured_claims_are_skipped() {
        let mapper = Mapper {
            traits: BTreeMap::from([
                ("name".into(), "name".into()),
                ("name.first".into(), "given_name".into()),
                ("groups".into(), "groups".into()),
                ("age".into(), "age".into()),
            ]),
            verified_addresses_from: None,
        };
        let claims = serde_json::json!({
            "name": "Ada Lovelace", "given_name": "Ada", "groups": ["a"], "age": 36
        });
        assert_eq!(
            mapper.traits(&claims),
            serde_json::json!({"name": "Ada Lovelace", "age": 36})
        );
        assert!(mapper.verified_values(&claims).is_empty());
    }
}
