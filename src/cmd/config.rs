//! `stray config show|init`: the effective configuration, or the commented
//! template written to a file. Parsing and validation are `config`'s.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::config::TEMPLATE;
use crate::exit::ExitCode;
use crate::settings::ConfigTask;
use crate::{render::msg, Settings};

pub(crate) fn config(s: &Settings, task: &ConfigTask, out: &mut dyn Write) -> Result<ExitCode> {
    match task {
        ConfigTask::Show => {
            if s.json() {
                let text = s.config.to_toml();
                let value: toml::Value = toml::from_str(&text)?;
                crate::cmd::print_json(
                    out,
                    &serde_json::json!({"schema": 1, "source": s.config.source, "config": value}),
                )?;
            } else {
                write!(out, "{}", s.config.to_toml())?;
            }
        }
        ConfigTask::Init { path, force } => {
            let dest = match path {
                Some(p) if p.as_os_str() == "-" => {
                    write!(out, "{TEMPLATE}")?;
                    return Ok(ExitCode::OK);
                }
                Some(p) => p.clone(),
                None if nix::unistd::geteuid().is_root() => PathBuf::from("/etc/stray/config.toml"),
                None => s
                    .env
                    .user_config_file()
                    .context("cannot find a config dir: set XDG_CONFIG_HOME or HOME")?,
            };
            if dest.exists() && !force {
                bail!(
                    "{} already exists; pass --force to overwrite it",
                    dest.display()
                );
            }
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .open(&dest)
                .with_context(|| format!("cannot write {}", dest.display()))?;
            f.write_all(TEMPLATE.as_bytes())
                .with_context(|| format!("cannot write {}", dest.display()))?;
            msg::warn(&format!("wrote {}", dest.display()));
        }
    }
    Ok(ExitCode::OK)
}
