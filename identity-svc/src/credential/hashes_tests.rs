//! Vectors made by other implementations (Python's hashlib, OpenBSD's bcrypt test set), so
//! these tests check the formats, not our own round trip.

use super::*;

pub const PASSWORD: &str = "Tr0ub4dor&3-imported";
pub const PBKDF2_SHA256: &str = "$pbkdf2-sha256$i=1000,l=32$c2FsdHlzYWx0eXNhbHQxNg$\
                                 Qjvh4GuxkU3vx2uBsoL9+aJYTsWJ+Fbn35TWLw0bH30";
pub const PBKDF2_SHA512: &str = "$pbkdf2-sha512$i=1000,l=64$c2FsdHlzYWx0eXNhbHQxNg$\
    3xrRhqiaRIKQqmwuX1Wanofvs7a5hlZtyUXwCEdTMihZR7pRs8SfcV8LuXujR5gcbNq2nvDB5Sq8bK+kha7xAA";
pub const SCRYPT: &str = "$scrypt$ln=1024,r=8,p=1$c2FsdHlzYWx0eXNhbHQxNg==$\
                          DSpAU1gs6USpT7DeZpRrOWZMDqX+60Z7ZDu0aKzpa9E=";
/// OpenBSD's vector: "U*U" at cost 5.
const BCRYPT: &str = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

#[test]
fn imported_formats_verify_the_right_password_only() {
    for stored in [PBKDF2_SHA256, PBKDF2_SHA512, SCRYPT] {
        let hash = StoredHash::parse(stored).unwrap();
        assert!(hash.verify(PASSWORD.as_bytes()).unwrap(), "{stored}");
        assert!(!hash.verify(b"Tr0ub4dor&3-imported ").unwrap(), "{stored}");
        assert!(!hash.verify(b"tr0ub4dor&3-imported").unwrap(), "{stored}");
        assert!(!hash.is_current(&Params::default()));
    }
    let bcrypt = StoredHash::parse(BCRYPT).unwrap();
    assert_eq!(bcrypt.algorithm(), "bcrypt");
    assert!(bcrypt.verify(b"U*U").unwrap());
    assert!(!bcrypt.verify(b"U*V").unwrap());
    for variant in ["$2b$", "$2y$"] {
        let other = BCRYPT.replacen("$2a$", variant, 1);
        assert!(StoredHash::parse(&other).unwrap().verify(b"U*U").unwrap());
    }
}

/// IF-10: bcrypt only reads 72 bytes; a longer password must not sign in by its prefix.
#[test]
fn bcrypt_refuses_passwords_it_would_truncate() {
    let long = "x".repeat(100);
    let prefix = &long.as_bytes()[..72];
    let stored = bcrypt::hash(prefix, 4).unwrap();
    let hash = StoredHash::parse(&stored).unwrap();
    assert!(hash.verify(prefix).unwrap());
    assert!(!hash.verify(long.as_bytes()).unwrap());
}

#[test]
fn argon2_hashes_are_current_only_with_the_configured_cost() {
    let stored = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$\
                  YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY";
    let hash = StoredHash::parse(stored).unwrap();
    assert_eq!(hash.algorithm(), "argon2id");
    assert!(hash.is_current(&Params::new(19456, 2, 1, None).unwrap()));
    assert!(!hash.is_current(&Params::new(19456, 3, 1, None).unwrap()));
    let argon2i = StoredHash::parse(&stored.replace("argon2id", "argon2i")).unwrap();
    assert_eq!(argon2i.algorithm(), "argon2i");
    assert!(!argon2i.is_current(&Params::new(19456, 2, 1, None).unwrap()));
}

#[test]
fn malformed_or_too_costly_hashes_are_refused_without_echoing_them() {
    let argon2 = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$\
                  YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY";
    let cases: Vec<(String, &str)> = vec![
        ("plain text".into(), "not a supported hash format"),
        (
            argon2.replace("argon2id", "argon2d"),
            "unsupported algorithm",
        ),
        (argon2.replace("m=19456", "m=4194304"), "cost beyond"),
        (BCRYPT.replacen("$05$", "$20$", 1), "cost beyond"),
        (BCRYPT[..59].to_string(), "not a bcrypt hash"),
        (BCRYPT.replacen("$2a$", "$2c$", 1), "not a bcrypt hash"),
        (PBKDF2_SHA256.replace("sha256", "sha1"), "sha256 and sha512"),
        (PBKDF2_SHA256.replace("i=1000", "i=99999999"), "cost beyond"),
        (PBKDF2_SHA256.replace("i=1000,", ""), "not a PBKDF2 hash"),
        (PBKDF2_SHA256.replace("$Qjvh", "$!!jvh"), "not valid base64"),
        (format!("{PBKDF2_SHA256}$extra"), "not a PBKDF2 hash"),
        (SCRYPT.replace("ln=1024", "ln=1000"), "power of two"),
        (SCRYPT.replace("ln=1024", "ln=1073741824"), "cost beyond"),
        (SCRYPT.replace("r=8,p=1", "p=1,r=8"), "not a scrypt hash"),
    ];
    for (stored, expected) in cases {
        let err = StoredHash::parse(&stored)
            .err()
            .unwrap_or_else(|| panic!("{stored} was accepted"));
        assert!(err.contains(expected), "{stored}: {err}");
        assert!(!err.contains("c2Fsd"), "the error echoes the hash: {err}");
    }
}
