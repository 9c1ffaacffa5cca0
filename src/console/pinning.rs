//! Remote pinning on the Settings screen: adding a pinning service to `remote_pinning`
//! ([`Console::pinning_add`]) and removing one ([`Console::pinning_remove`], which first
//! deletes the station's requests there when asked, with the service's token).
//!
//! Both write `setup.config.json` through the settings form's own path
//! ([`super::settings::apply_picked`]: the engine's validation, one atomic write, the
//! other keys kept). The access token is never read into anything the page gets: adding
//! checks the token file ([`remote_pinning::read_token`]: it exists, only its owner may
//! read it) and drops the token.
//!
//! The token file is read by the station and its token sent to the service's endpoint,
//! so, as for folder settings, the page may only name a token file inside the station
//! folder or one the operator picked in the native dialog ([`Console::allow_token_file`],
//! recorded on the Rust side); [`token_files_refused`] says which are refused, also for
//! the generic form's `remote_pinning` key.

use super::settings::{self, Edits, FieldValue};
use super::Console;
use crate::error::{Error, Result};
use crate::station::keys::SETUP_FILE;
use crate::station::remote_pinning::{self, KEY};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Component, Path, PathBuf};

/// What [`Console::pinning_remove`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PinningRemoved {
    /// The service's name.
    pub service: String,
    /// Whether the operator asked to delete the station's requests there.
    pub delete_requests: bool,
    /// Requests deleted on the service.
    pub deleted: usize,
    /// Why the requests could not be deleted, or the service's state not forgotten (the
    /// service is out of the config either way).
    pub error: Option<String>,
    /// Whether the station's requests may still be on the service (not asked to delete
    /// them, or deleting failed).
    pub requests_left: bool,
    /// The outcome in sentences, for the operator.
    pub summary: Vec<String>,
    /// Every setting, after the removal.
    pub settings: Vec<FieldValue>,
}

/// `path` (absolute, or relative to `station`) with its symbolic links resolved where
/// it exists; `None` when it holds `..`.
fn resolve(station: &Path, path: &Path) -> Option<PathBuf> {
    if path.components().any(|c| c == Component::ParentDir) {
        return None;
    }
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        station.join(path)
    };
    if let Ok(c) = joined.canonicalize() {
        return Some(c);
    }
    match (joined.parent().map(Path::canonicalize), joined.file_name()) {
        (Some(Ok(dir)), Some(name)) => Some(dir.join(name)),
        _ => Some(joined),
    }
}

/// Why a `remote_pinning` value `text` may not be written through the console, if it
/// may not: an entry's `access_token_file` that `current` (the list now) does not name
/// holds `..`, or resolves outside `station` and outside every path in `picked` (folders
/// and token files the operator picked in the native dialogs, canonical). Text that is
/// not a JSON list is left to the form's own check.
pub fn token_files_refused(
    station: &Path,
    current: Option<&Value>,
    text: &str,
    picked: &[PathBuf],
) -> Option<String> {
    let Ok(Value::Array(list)) = serde_json::from_str::<Value>(text.trim()) else {
        return None;
    };
    let known = |f: &str| {
        current
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|e| e["access_token_file"].as_str() == Some(f)))
    };
    let home = station
        .canonicalize()
        .unwrap_or_else(|_| station.to_path_buf());
    for entry in &list {
        let Some(file) = entry["access_token_file"].as_str().map(str::trim) else {
            continue;
        };
        if file.is_empty() || known(file) {
            continue;
        }
        let shown = crate::station::text::terminal(file);
        let Some(resolved) = resolve(station, Path::new(file)) else {
            return Some(format!(
                "`{shown}`: `..` is not allowed in a token file's path"
            ));
        };
        if !resolved.starts_with(&home) && !picked.iter().any(|p| resolved.starts_with(p)) {
            return Some(format!(
                "`{}` is outside the station folder: choose the token file with Choose… to use it (the console reads files outside the station only where you picked)",
                crate::station::text::terminal(&resolved.to_string_lossy())
            ));
        }
    }
    None
}

/// The `remote_pinning` list as the config holds it (entries as written: relative token
/// files stay relative).
fn current_list(station: &Path) -> Result<Vec<Value>> {
    let text = settings::load(station)?
        .into_iter()
        .find(|f| f.spec.file == SETUP_FILE && f.spec.key == KEY)
        .map(|f| f.value)
        .unwrap_or_default();
    Ok(match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(a)) => a,
        _ => Vec::new(),
    })
}

impl Console {
    /// Records a token file the operator picked in the native file dialog: the only
    /// files outside the station folder a pinning service's `access_token_file` may
    /// name (the station reads it and sends it to the service).
    pub fn allow_token_file(&self, path: &Path) {
        if let (Ok(c), Ok(mut a)) = (path.canonicalize(), self.picked_files.lock()) {
            if c.is_file() {
                a.push(c);
            }
        }
    }

    /// Adds the pinning service `name` at `endpoint` whose token is in `token_file`
    /// (absolute, or relative to the station folder) to `remote_pinning`, after the
    /// other services, and reads the station again; returns every setting.
    ///
    /// Errors: [`Error::Config`] naming the field (`remote_pinning[1] ("cluster").endpoint`,
    /// a name used twice, a token file outside the station and not picked, a token file
    /// missing, empty or open to others with "chmod 600"; never the token), and as
    /// [`Console::settings_apply`]. Nothing is written then.
    pub fn pinning_add(
        &self,
        name: &str,
        endpoint: &str,
        token_file: &str,
    ) -> Result<Vec<FieldValue>> {
        let file = self.dir.join(SETUP_FILE);
        let mut list = current_list(&self.dir)?;
        let before = Value::Array(list.clone());
        list.push(json!({
            "name": name.trim(),
            "endpoint": endpoint.trim(),
            "access_token_file": token_file.trim(),
        }));
        let services = remote_pinning::parse(&file, &self.dir, &Value::Array(list.clone()))?;
        let text = Value::Array(list.clone()).to_string();
        let refused = |message: String| Error::Config {
            file: file.clone(),
            field: format!(
                "{KEY}[{}] ({:?}).access_token_file",
                list.len() - 1,
                name.trim()
            ),
            message,
        };
        if let Some(m) = token_files_refused(&self.dir, Some(&before), &text, &self.picked()) {
            return Err(refused(m));
        }
        if let Some(added) = services.last() {
            remote_pinning::read_token(added)?;
            // The endpoint as the station uses it (Kubo's normalization).
            if let Some(Value::Object(o)) = list.last_mut() {
                o.insert("endpoint".into(), Value::String(added.endpoint.clone()));
            }
        }
        self.write_list(&list)?;
        settings::load(&self.dir)
    }

    /// Removes the pinning service `name` from `remote_pinning`, then
    /// [`crate::pinning::forget_service`]: with `delete_requests`, the station's requests
    /// there are deleted (with its token); its state is forgotten. The config is written
    /// first, so a streamer's follower (which reads it at every tick) sends nothing more
    /// there. The service leaves the config even when it could not be reached: the
    /// result then says why and that the requests were left there.
    ///
    /// Errors: [`Error::Config`] when no service has that name; as
    /// [`Console::settings_apply`] writing the config.
    pub async fn pinning_remove(
        &self,
        name: &str,
        delete_requests: bool,
    ) -> Result<PinningRemoved> {
        let mut list = current_list(&self.dir)?;
        let Some(at) = list.iter().position(|e| e["name"].as_str() == Some(name)) else {
            return Err(Error::Config {
                file: self.dir.join(SETUP_FILE),
                field: KEY.into(),
                message: format!(
                    "no pinning service is named `{}`",
                    crate::station::text::terminal(name)
                ),
            });
        };
        // The config as on disk now (a hand edit since the last read counts).
        let configured = self.reload();
        list.remove(at);
        self.write_list(&list)?;
        let (deleted, error) = match configured {
            Ok(st) => match st.setup.remote_pinning.iter().find(|s| s.name == name) {
                Some(svc) => {
                    match crate::pinning::forget_service(&st, svc, delete_requests).await {
                        Ok(f) => (f.deleted, f.error),
                        Err(e) => (0, Some(format!("forgetting its state: {e}"))),
                    }
                }
                None => (0, Some("the station does not use it".into())),
            },
            Err(e) => (
                0,
                Some(format!("the station's configuration does not open: {e}")),
            ),
        };
        let requests_left = !delete_requests || error.is_some();
        let shown = crate::station::text::terminal(name).into_owned();
        let mut summary = vec![format!("`{shown}` is no longer in remote_pinning.")];
        summary.push(match (delete_requests, &error) {
            (false, _) => format!("The station's pins on `{shown}` were left there."),
            (true, None) => format!(
                "{deleted} pin request{} of this station deleted on `{shown}`.",
                if deleted == 1 { "" } else { "s" }
            ),
            (true, Some(e)) => {
                format!("The station's pins on `{shown}` were left there ({deleted} deleted): {e}")
            }
        });
        let state = self.state_dir();
        if crate::station::process::running(&state, crate::station::state::Role::Stream).is_some() {
            summary.push(
                "The running stream follows the services it started with until it restarts.".into(),
            );
        }
        Ok(PinningRemoved {
            service: name.to_string(),
            delete_requests,
            deleted,
            error,
            requests_left,
            summary,
            settings: settings::load(&self.dir)?,
        })
    }

    /// Writes `list` as `remote_pinning` (the settings form's validation and atomic
    /// write), then reads the station again.
    fn write_list(&self, list: &[Value]) -> Result<()> {
        let mut edits = Edits::new();
        edits
            .entry(SETUP_FILE.to_string())
            .or_default()
            .insert(KEY.to_string(), Value::Array(list.to_vec()).to_string());
        let out = self.settings_apply(&edits)?;
        match out.errors.into_iter().next() {
            Some(e) => Err(Error::Config {
                file: self.dir.join(e.file),
                field: e.key,
                message: e.message,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "pinning_tests.rs"]
mod tests;
