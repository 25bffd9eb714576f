//! `GET /.well-known/ory/webauthn.js`: the small script login pages load to run the WebAuthn
//! ceremonies the passkey and webauthn nodes describe (Kratos serves one at the same path).

use actix_web::{HttpResponse, web};

const SCRIPT: &str = include_str!("script.js");

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/ory/webauthn.js",
        web::get().to(get_webauthn_js),
    );
}

async fn get_webauthn_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=3600"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(SCRIPT)
}
