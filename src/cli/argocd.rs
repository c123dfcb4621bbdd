//! `kexpose argocd`: the config management plugin's commands.

use std::io::{self, Write};

use clap::Subcommand;

use super::stream::say;
use super::{Fatal, Outcome};

#[derive(Subcommand)]
pub enum ArgocdCommand {
    /// Render every exposure spec of the application in the current directory to stdout.
    Generate {
        /// The environment of the repository's kexpose.yaml (default: the Application's
        /// KEXPOSE_ENV, else the config's defaultEnvironment).
        #[arg(long = "env", value_name = "NAME")]
        env: Option<String>,
    },
    /// Print the plugin's parameter announcements as JSON.
    Parameters,
    /// Print the first exposure spec under the current directory (plugin discovery).
    Discover,
}

/// The CMP commands: the working directory is the application's source
/// directory; stdout carries only manifests (or announcements).
pub fn argocd(command: ArgocdCommand, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let dir = std::path::Path::new(".");
    match command {
        ArgocdCommand::Parameters => {
            serde_json::to_writer_pretty(&mut *out, &crate::argocd::announcements(dir))
                .map_err(io::Error::from)?;
            writeln!(out)?;
            out.flush()?;
            Ok(Outcome::Clean)
        }
        ArgocdCommand::Discover => {
            if let Some(found) = crate::argocd::discover(dir) {
                writeln!(out, "{}", found.display())?;
            }
            out.flush()?;
            Ok(Outcome::Clean)
        }
        ArgocdCommand::Generate { env: environment } => {
            let env = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect();
            match crate::argocd::generate(dir, &env, environment.as_deref()) {
                Ok(stream) => {
                    out.write_all(stream.as_bytes())?;
                    out.flush()?;
                    Ok(Outcome::Clean)
                }
                Err(refused) => {
                    say!("{refused}");
                    Ok(Outcome::Findings)
                }
            }
        }
    }
}
