//! The HTML pages: no JavaScript, every dynamic value escaped, one small stylesheet.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use crate::oidc::SignedIn;

pub const STYLESHEET: &str = r#"
:root { color-scheme: light dark; --accent: #4f46e5; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
       background: Canvas; color: CanvasText; }
main { max-width: 44rem; margin: 4rem auto; padding: 0 1.25rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
p.lead { margin: 0 0 2rem; opacity: .75; }
a.button { display: inline-block; padding: .7rem 1.4rem; border-radius: .5rem;
           background: var(--accent); color: #fff; text-decoration: none; font-weight: 600; }
a.button:focus-visible { outline: 3px solid var(--accent); outline-offset: 3px; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0 2rem; }
th, td { text-align: left; padding: .45rem .6rem; vertical-align: top;
         border-bottom: 1px solid color-mix(in srgb, CanvasText 15%, transparent); }
th { width: 10rem; font-weight: 600; }
td { font-family: ui-monospace, monospace; word-break: break-all; }
.error { border-left: 4px solid #dc2626; padding: .5rem 1rem; margin: 0 0 2rem; }
footer { margin-top: 3rem; font-size: .85rem; opacity: .6; }
"#;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body` (already HTML), with headers that forbid scripts and framing.
pub fn page(status: StatusCode, title: &str, issuer: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Olympus demo app</title><link rel=\"stylesheet\" href=\"/demo.css\">\
         </head><body><main>{body}<footer>Olympus demo relying party · issuer <code>{issuer}</code>\
         </footer></main></body></html>\n",
        title = escape(title),
        issuer = escape(issuer),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header((
            "content-security-policy",
            "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("referrer-policy", "no-referrer"))
        .body(html)
}

pub fn home(issuer: &str) -> HttpResponse {
    page(
        StatusCode::OK,
        "Welcome",
        issuer,
        "<h1>Olympus demo app</h1>\
         <p class=\"lead\">A small OpenID Connect client. Sign in to see the claims Olympus \
         vouches for.</p>\
         <a class=\"button\" href=\"/login\">Sign in with Olympus</a>",
    )
}

/// The friendly error page: what happened, and a way to start again.
pub fn problem(status: StatusCode, issuer: &str, error: &str, description: &str) -> HttpResponse {
    let body = format!(
        "<h1>Sign-in did not complete</h1>\
         <div class=\"error\" role=\"alert\"><p><strong>{error}</strong></p><p>{description}</p></div>\
         <a class=\"button\" href=\"/\">Try again</a>",
        error = escape(error),
        description = escape(description),
    );
    page(status, "Sign-in failed", issuer, &body)
}

/// Rows of `(claim, value)` as a table.
pub fn claims_table(caption: &str, rows: &[(&str, String)]) -> String {
    let mut html = format!("<h2>{}</h2><table>", escape(caption));
    for (name, value) in rows {
        html.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            escape(name),
            escape(value)
        ));
    }
    html.push_str("</table>");
    html
}

pub fn signed_in(issuer: &str, signed_in: &SignedIn) -> HttpResponse {
    let mut tables = claims_table("ID token (verified)", &signed_in.id_token);
    tables.push_str(&claims_table("Token response", &signed_in.tokens));
    if let Some(rows) = &signed_in.userinfo {
        tables.push_str(&claims_table("Userinfo", rows));
    }
    let body = format!(
        "<h1>Signed in</h1><p class=\"lead\">The ID token's signature, issuer, audience, expiry \
         and nonce were verified, and its <code>at_hash</code> when present.</p>{tables}\
         <a class=\"button\" href=\"/\">Start over</a>"
    );
    page(StatusCode::OK, "Signed in", issuer, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        let table = claims_table("ID token", &[("email", "<b>@x".into())]);
        assert!(table.contains("<td>&lt;b&gt;@x</td>"), "{table}");
    }
}
