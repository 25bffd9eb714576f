//! The TOTP enrolment QR code, drawn by login-ui from identity-svc's `otpauth://` URL (which
//! draws no image itself): an SVG, served inline as a `data:` URL (the CSP allows `img-src data:`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Longest text encoded; an otpauth URL is a few hundred bytes.
const MAX_TEXT: usize = 1024;

/// `data:image/svg+xml;base64,…` of a QR code for `text`, or `None` if it does not fit.
pub fn data_url(text: &str) -> Option<String> {
    if text.len() > MAX_TEXT {
        return None;
    }
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(image)
    ))
}
