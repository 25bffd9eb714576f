//! Command-line arguments every service binary shares, and the operator CLIs' output.

pub mod output;

use std::path::PathBuf;

use crate::telemetry::LogFormat;

#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Configuration file (TOML or YAML); environment variables override it.
    #[arg(long, short = 'c', global = true)]
    pub config: Option<PathBuf>,
    /// Log format: `text` (default) or `json`; overrides `log.format`.
    #[arg(long, value_enum, global = true)]
    pub log_format: Option<LogFormat>,
}

/// Prints a start-up failure (with its causes) and returns the failure exit code.
pub fn fail(err: &dyn std::fmt::Display) -> std::process::ExitCode {
    eprintln!("error: {err:#}");
    std::process::ExitCode::FAILURE
}
