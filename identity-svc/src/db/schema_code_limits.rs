//! The table of the code-sending limits (src/flow/code/limits.rs).

diesel::table! {
    use diesel::sql_types::*;

    /// Codes sent per address and per flow in a window, by keyed hash.
    code_send_limits (key_hash) {
        key_hash -> Text,
        window_start -> Timestamp,
        sends -> Integer,
    }
}
