//! The handoff end to end (design.md, "The handoff"): three real binaries, a cookie-keeping
//! browser that fills each form from its own action and fields, and the `openidconnect` crate
//! as the relying party. Covers security.md AZ-01, TK-01, ID-01…ID-03, IF-01; the login and
//! consent cases (LC-*) and ID-13 are in `login_consent.rs`.

mod support;

use olympus_tests::harness::{Domain, DomainOptions};
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use support::{Browser, PASSWORD, REDIRECT, query_param, setup, signed_in};

#[tokio::test]
async fn a_browser_signs_in_through_all_three_services() {
    // dev: cookies without `Secure`, as a browser on http://127.0.0.1 needs them.
    let domain = Domain::start_with(DomainOptions {
        dev: true,
        ..Default::default()
    })
    .await
    .expect("domain starts");
    let (client_id, secret) = setup(&domain).await;
    let rp_http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = IssuerUrl::new(domain.issuer()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &rp_http)
        .await
        .expect("discovery");
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    let browser = Browser::new();
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(pkce)
        .url();

    // oauth2-svc → login-ui → identity-svc's login flow, rendered by login-ui.
    let (form_url, form) = browser.follow_to_page(url.as_str()).await;
    assert!(
        form_url.starts_with(&domain.login_ui.public_url()),
        "{form_url}"
    );
    assert!(form_url.contains("/login?flow="), "{form_url}");
    let form = form.expect("the login form");
    assert!(form.action.starts_with(&domain.identity.public_url()));
    // Wrong password first: the same form again, with the message.
    let (_, again) = browser
        .submit(
            &form,
            &[("identifier", "ada@example.com"), ("password", "wrong")],
        )
        .await;
    let again = again.expect("the login form again");
    assert!(again.text.contains("These credentials are not valid"));
    // Then the right one: back through login-ui and oauth2-svc to the consent page.
    let (consent_url, consent) = browser
        .submit(
            &again,
            &[("identifier", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert!(
        consent_url.contains("/consent?consent_challenge="),
        "{consent_url}"
    );
    let consent = consent.expect("the consent form");
    assert!(consent.text.contains("Demo app") && consent.text.contains("See your email address"));
    let (done, _) = browser.submit(&consent, &[("decision", "grant")]).await;
    assert!(done.starts_with(REDIRECT), "{done}");
    assert_eq!(
        query_param(&done, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(
        query_param(&done, "iss").as_deref(),
        Some(domain.issuer().as_str())
    );
    let code = query_param(&done, "code").unwrap();

    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp_http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let id_token_verifier = rp.id_token_verifier();
    let claims = id_token
        .claims(&id_token_verifier, &nonce)
        .expect("a valid ID token");
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_token_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ada@example.com"));
    assert_eq!(claims.email_verified(), Some(false));
    let userinfo: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&rp_http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.subject(), claims.subject());

    // A second authorization in the same browser needs no password.
    let (pkce, _) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = rp
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(pkce)
        .url();
    let (next, page) = browser.follow_to_page(url.as_str()).await;
    assert!(
        next.contains("/consent?consent_challenge="),
        "no login form the second time: {next}"
    );
    let (done, _) = browser
        .submit(&page.unwrap(), &[("decision", "grant")])
        .await;
    assert!(query_param(&done, "code").is_some());
}

/// TK-01: a replayed code fails, and the tokens it gave stop working.
#[tokio::test]
async fn a_replayed_code_fails_and_its_tokens_stop_working() {
    let s = signed_in().await;
    let (consent, verifier) = s.to_consent().await;
    let (done, _) = s.browser.submit(&consent, &[("decision", "grant")]).await;
    let code = query_param(&done, "code").unwrap();
    let secret = verifier.secret().clone();
    let tokens =
        s.rp.exchange_code(AuthorizationCode::new(code.clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&s.http)
            .await
            .unwrap();
    let userinfo = || async {
        let res: Result<CoreUserInfoClaims, _> =
            s.rp.user_info(tokens.access_token().clone(), None)
                .unwrap()
                .request_async(&s.http)
                .await;
        res.is_ok()
    };
    assert!(userinfo().await);
    let replay =
        s.rp.exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(openidconnect::PkceCodeVerifier::new(secret))
            .request_async(&s.http)
            .await;
    assert!(replay.is_err(), "a replayed code must fail");
    assert!(
        !userinfo().await,
        "the first exchange's access token is revoked"
    );
}

/// oauth2-svc restarted between consent and token exchange: nothing lived only in memory.
#[tokio::test]
async fn a_restart_between_consent_and_token_exchange_completes() {
    let mut s = signed_in().await;
    let (consent, verifier) = s.to_consent().await;
    let (done, _) = s.browser.submit(&consent, &[("decision", "grant")]).await;
    let code = query_param(&done, "code").unwrap();
    s.domain.restart_oauth2().await.expect("restart");
    let tokens =
        s.rp.exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&s.http)
            .await;
    let tokens = tokens.expect("the code survives the restart");
    assert!(tokens.id_token().is_some());
    let _ = &s.client_id;
}

/// RP-initiated logout through all three services: the user confirms at login-ui, which also
/// ends the identity-svc session; the next sign-in needs the password again.
#[tokio::test]
async fn signing_out_ends_both_sessions() {
    let s = signed_in().await;
    let (consent, verifier) = s.to_consent().await;
    let (done, _) = s.browser.submit(&consent, &[("decision", "grant")]).await;
    let tokens =
        s.rp.exchange_code(AuthorizationCode::new(query_param(&done, "code").unwrap()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&s.http)
            .await
            .unwrap();
    let hint = tokens.id_token().unwrap().to_string();
    let logout = reqwest::Url::parse_with_params(
        &format!("{}/oauth2/sessions/logout", s.domain.issuer()),
        &[
            ("id_token_hint", hint.as_str()),
            ("post_logout_redirect_uri", "http://127.0.0.1:9/bye"),
            ("state", "s-1"),
        ],
    )
    .unwrap();
    let (page, form) = s.browser.follow_to_page(logout.as_str()).await;
    assert!(page.contains("/logout?logout_challenge="), "{page}");
    let (end, _) = s
        .browser
        .submit(&form.unwrap(), &[("decision", "accept")])
        .await;
    assert!(end.starts_with("http://127.0.0.1:9/bye"), "{end}");
    assert_eq!(query_param(&end, "state").as_deref(), Some("s-1"));

    // Both sessions are gone: the next authorization shows the login form.
    let (pkce, _) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) =
        s.rp.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(pkce)
        .url();
    let (next, form) = s.browser.follow_to_page(url.as_str()).await;
    assert!(
        next.contains("/login?flow="),
        "a password is needed again: {next}"
    );
    assert!(form.unwrap().text.contains("password"));
}
