//! Front-channel logout (OpenID Connect Front-Channel Logout 1.0): a page with one hidden iframe
//! per client at `frontchannel_logout_uri?iss=…&sid=…`, which moves on to the post-logout target
//! by itself after a few seconds (meta refresh, no script) and offers a link at once.

use actix_web::HttpResponse;
use actix_web::http::header;

use crate::authorize::form_post::escape;

/// Seconds the page waits for the iframes before it moves on.
const WAIT_SECS: u32 = 3;

/// The iframe URL of one client: its URI with `iss` and `sid` added.
pub fn iframe_url(uri: &str, issuer: &str, sid: &str) -> Option<url::Url> {
    let mut url = url::Url::parse(uri).ok()?;
    url.query_pairs_mut()
        .append_pair("iss", issuer)
        .append_pair("sid", sid);
    Some(url)
}

pub fn page(iframes: &[url::Url], next: &str) -> HttpResponse {
    let frames: String = iframes
        .iter()
        .map(|u| {
            format!(
                "<iframe src=\"{}\" hidden width=\"0\" height=\"0\" title=\"logout\"></iframe>",
                escape(u.as_str())
            )
        })
        .collect();
    let mut origins: Vec<String> = iframes
        .iter()
        .map(|u| u.origin().ascii_serialization())
        .collect();
    origins.sort();
    origins.dedup();
    let next = escape(next);
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{WAIT_SECS};url={next}\"><title>Signing out</title></head>\
         <body><p>Signing you out of the applications you used…</p>{frames}\
         <p><a href=\"{next}\">Continue</a></p></body></html>"
    );
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'none'; frame-src {}; base-uri 'none'; frame-ancestors 'none'",
                origins.join(" ")
            ),
        ))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .content_type("text/html; charset=utf-8")
        .body(body)
}
