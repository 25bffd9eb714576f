//! Matching a requested redirect_uri against the registered ones: byte for byte (RFC 9700
//! §4.1.3, no normalisation), except that a loopback IP literal registered over `http` matches
//! with any port (RFC 8252 §7.3). `localhost` is a name, not a loopback literal, and gets no
//! exception (RFC 8252 §8.3).

const LOOPBACK_HOSTS: &[&str] = &["127.0.0.1", "[::1]"];

/// Whether `requested` is one of `registered`.
pub fn is_registered(registered: &[String], requested: &str) -> bool {
    registered.iter().any(|r| r == requested)
        || loopback_parts(requested).is_some_and(|wanted| {
            registered
                .iter()
                .any(|r| loopback_parts(r).is_some_and(|have| have == wanted))
        })
}

/// `(host, path-and-query)` of an `http://<loopback literal>[:port]/…` URI, with the port
/// removed; `None` for anything else.
fn loopback_parts(uri: &str) -> Option<(&'static str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    LOOPBACK_HOSTS.iter().find_map(|host| {
        let after = rest.strip_prefix(host)?;
        let after = match after.strip_prefix(':') {
            Some(port_and_path) => {
                let digits = port_and_path
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(port_and_path.len());
                let port: u16 = port_and_path[..digits].parse().ok()?;
                if port == 0 {
                    return None;
                }
                &port_and_path[digits..]
            }
            None => after,
        };
        after.starts_with('/').then_some((*host, after))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|u| u.to_string()).collect()
    }

    /// AZ-05: any port on a loopback literal, nothing else relaxed.
    #[test]
    fn loopback_literals_match_any_port_and_nothing_else() {
        let r = registered(&["http://127.0.0.1/cb", "http://[::1]:8080/cb"]);
        for ok in [
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51234/cb",
            "http://[::1]/cb",
            "http://[::1]:1/cb",
        ] {
            assert!(is_registered(&r, ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:51234/cb?x=1",
            "http://127.0.0.1:51234/other",
            "http://localhost:51234/cb",
            "http://127.0.0.1.evil.test/cb",
            "http://127.0.0.1:51234@evil.test/cb",
            "http://127.0.0.1:0/cb",
            "http://127.0.0.1:99999/cb",
            "https://127.0.0.1:51234/cb",
            "http://127.0.0.1:51234/cb/",
        ] {
            assert!(!is_registered(&r, bad), "{bad}");
        }
    }

    /// AZ-05: localhost and web clients keep the exact match.
    #[test]
    fn localhost_gets_no_port_exception() {
        let r = registered(&["http://localhost/cb", "https://rp.test/cb"]);
        assert!(is_registered(&r, "http://localhost/cb"));
        assert!(!is_registered(&r, "http://localhost:8080/cb"));
        assert!(!is_registered(&r, "http://127.0.0.1/cb"));
        assert!(!is_registered(&r, "https://rp.test:8443/cb"));
    }
}
