//! `identity-svc schemas validate FILE`: checks identity schema files offline with the rules
//! the service applies when it loads `identity.schemas` at start.

use std::path::PathBuf;

use serde_json::json;

use super::output::{self, Format};

#[derive(Debug, clap::Subcommand)]
pub enum SchemasCommand {
    /// Check identity schema files; prints OK or the problem of each, fails on any problem.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// `table` (default) or `json`.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

pub fn run(command: SchemasCommand) -> Result<(), String> {
    let SchemasCommand::Validate { files, format } = command;
    let results: Vec<(String, Result<(), String>)> = files
        .iter()
        .map(|file| {
            let result = std::fs::read(file)
                .map_err(|e| format!("cannot read it: {e}"))
                .and_then(|bytes| crate::schema::check(&bytes));
            (file.display().to_string(), result)
        })
        .collect();
    match format {
        Format::Json => output::json(&json!(
            results
                .iter()
                .map(|(file, result)| json!({
                    "file": file,
                    "valid": result.is_ok(),
                    "problems": result.as_ref().err().into_iter().collect::<Vec<_>>(),
                }))
                .collect::<Vec<_>>()
        )),
        Format::Table => {
            for (file, result) in &results {
                match result {
                    Ok(()) => println!("{file}: OK"),
                    Err(problem) => println!("{file}: {problem}"),
                }
            }
        }
    }
    let invalid = results.iter().filter(|(_, r)| r.is_err()).count();
    if invalid > 0 {
        return Err(format!(
            "{invalid} of {} schema(s) are invalid",
            results.len()
        ));
    }
    Ok(())
}
