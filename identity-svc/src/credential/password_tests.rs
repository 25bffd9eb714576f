use super::*;

/// Cheap settings for tests that check behaviour rather than cost.
fn fast() -> Argon2Settings {
    Argon2Settings {
        memory: "1MiB".into(),
        iterations: 1,
        ..Argon2Settings::default()
    }
}

fn secret(s: &str) -> Secret {
    Secret::new(s)
}

#[test]
fn sizes_read_like_kratos() {
    assert_eq!(parse_kib("19MiB"), Ok(19456));
    assert_eq!(parse_kib("19456KiB"), Ok(19456));
    assert_eq!(parse_kib("128MB"), Ok(131_072));
    assert_eq!(parse_kib("1 GB"), Ok(1_048_576));
    assert_eq!(parse_kib("2048b"), Ok(2));
    assert!(parse_kib("19456").unwrap_err().contains("needs a unit"));
    assert!(
        parse_kib("1000B")
            .unwrap_err()
            .contains("whole number of KiB")
    );
    assert!(parse_kib("lots").is_err());
    assert!(
        parse_kib("19 parsecs")
            .unwrap_err()
            .contains("unknown unit")
    );
    assert!(parse_kib("99999999GiB").unwrap_err().contains("too large"));
}

#[test]
fn invalid_settings_name_their_key() {
    let cases: [(Argon2Settings, &str); 5] = [
        (
            Argon2Settings {
                memory: "19".into(),
                ..fast()
            },
            "memory",
        ),
        (
            Argon2Settings {
                memory: "4KiB".into(),
                ..fast()
            },
            "memory",
        ),
        (
            Argon2Settings {
                iterations: 0,
                ..fast()
            },
            "iterations",
        ),
        (
            Argon2Settings {
                parallelism: 0,
                ..fast()
            },
            "parallelism",
        ),
        (
            Argon2Settings {
                max_concurrent: Some(0),
                ..fast()
            },
            "max_concurrent",
        ),
    ];
    for (settings, key) in cases {
        match PasswordHasher::new(&settings) {
            Err(SettingsError::Invalid { key: named, .. }) => {
                assert_eq!(named, format!("hashers.argon2.{key}"))
            }
            other => panic!("{key}: expected an invalid-setting error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_default_hash_is_argon2id_with_the_configured_cost_and_round_trips() {
    let hasher = PasswordHasher::new(&Argon2Settings::default()).unwrap();
    let hash = hasher.hash(secret("correct horse battery")).await.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let again = hasher.hash(secret("correct horse battery")).await.unwrap();
    assert_ne!(hash, again, "a fresh salt each time");
    let ok = hasher.verify(secret("correct horse battery"), Some(hash.clone()));
    assert!(ok.await.unwrap());
    let wrong = hasher.verify(secret("correct horse battery!"), Some(hash));
    assert!(!wrong.await.unwrap());
}

#[tokio::test]
async fn passwords_are_neither_truncated_trimmed_nor_case_folded() {
    let hasher = PasswordHasher::new(&fast()).unwrap();
    let password: String = ('a'..='z').cycle().take(99).collect::<String>() + " ";
    assert_eq!(password.len(), 100);
    let hash = hasher.hash(secret(&password)).await.unwrap();
    assert!(
        hasher
            .verify(secret(&password), Some(hash.clone()))
            .await
            .unwrap()
    );
    for variant in [
        password[..72].to_string(),
        password.trim_end().to_string(),
        password.to_uppercase(),
    ] {
        let accepted = hasher
            .verify(secret(&variant), Some(hash.clone()))
            .await
            .unwrap();
        assert!(!accepted, "{variant:?} must not match");
    }
}

#[tokio::test]
async fn unknown_identifiers_and_unusable_hashes_run_argon2_against_the_dummy() {
    let hasher = PasswordHasher::new(&fast()).unwrap();
    assert!(
        hasher
            .inner
            .dummy
            .to_string()
            .starts_with("$argon2id$v=19$m=1024,t=1,p=1$")
    );
    let before = hasher.runs();
    assert!(
        !hasher
            .verify(secret("anything at all"), None)
            .await
            .unwrap()
    );
    assert_eq!(hasher.runs(), before + 1, "the dummy path computes argon2");
    let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_string();
    for unusable in [bcrypt, "garbage".to_string(), String::new()] {
        assert!(
            !hasher
                .verify(secret("anything"), Some(unusable))
                .await
                .unwrap()
        );
    }
    assert_eq!(
        hasher.runs(),
        before + 4,
        "unusable hashes cost a real check too"
    );
}

#[tokio::test]
async fn an_imported_argon2i_hash_verifies() {
    // argon2i with other costs than ours: verification follows the stored parameters.
    let params = Params::new(2048, 3, 2, None).unwrap();
    let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params);
    let phc = argon2i.hash_password(b"imported pw").unwrap().to_string();
    assert!(phc.starts_with("$argon2i$v=19$m=2048,t=3,p=2$"), "{phc}");
    let hasher = PasswordHasher::new(&fast()).unwrap();
    assert!(
        hasher
            .verify(secret("imported pw"), Some(phc.clone()))
            .await
            .unwrap()
    );
    assert!(
        !hasher
            .verify(secret("imported pw "), Some(phc))
            .await
            .unwrap()
    );
}

/// Slow enough that the first hash is still running when the others ask.
fn one_slot(queue_depth: usize) -> PasswordHasher {
    PasswordHasher::new(&Argon2Settings {
        memory: "64MiB".into(),
        iterations: 4,
        parallelism: 1,
        max_concurrent: Some(1),
        queue_depth,
    })
    .unwrap()
}

#[tokio::test]
async fn past_the_queue_callers_are_turned_away_busy() {
    let hasher = one_slot(0);
    let (first, second) = tokio::join!(
        hasher.hash(secret("first pw")),
        hasher.hash(secret("2nd pw"))
    );
    assert!(first.is_ok());
    match second {
        Err(HashError::Busy { retry_after }) => assert_eq!(retry_after, Duration::from_secs(1)),
        other => panic!("expected Busy, got {other:?}"),
    }
    // The slot is free again once the first hash is done.
    assert!(hasher.hash(secret("third pw")).await.is_ok());
}

#[tokio::test]
async fn callers_within_the_queue_wait_their_turn() {
    let hasher = one_slot(1);
    let (a, b, c) = tokio::join!(
        hasher.hash(secret("pw number a")),
        hasher.verify(secret("pw number b"), None),
        hasher.hash(secret("pw number c")),
    );
    assert!(a.is_ok());
    assert!(!b.unwrap(), "the queued caller ran after the first");
    assert!(matches!(c, Err(HashError::Busy { .. })), "{c:?}");
    assert_eq!(
        hasher.inner.waiting.load(Ordering::SeqCst),
        0,
        "queue slots come back"
    );
    assert_eq!(hasher.runs(), 2);
}
