//! Every key of the three config files as one settings form: what each key is
//! ([`fields`], the key table [`crate::station::keys::KEYS`]), its current value as text
//! ([`load`]), and applying edits with the engine's own validation, an error per field,
//! and what a change will redo ([`apply`]).
//!
//! The form sends text (as typed); each key's [`FieldKind`] turns it into the JSON the
//! file holds, so "abc" for a number is reported on that field like any other error.
//! Validation is the same code `station setup`/`stream`/`health` run
//! ([`crate::station::config`]); nothing is written unless every edited key is valid.
//!
//! The form is reached over the console's IPC, so a folder setting ([`FieldKind::Folder`]:
//! `music_dir`, `jingles_dir`, `processed_dir`, `state_dir`; the station reads, writes and
//! deletes there) may only change to a folder inside the station folder, or inside a
//! folder the operator picked in the native dialog ([`check_picked`], [`apply_picked`];
//! the console records picked folders on the Rust side). `..` is refused in them, and
//! symbolic links are resolved before the check. A new `access_token_file` in
//! `remote_pinning` is held to the same rule ([`super::pinning::token_files_refused`]).

use crate::error::{Error, Result};
use crate::setup::manifest::Manifest;
use crate::station::config::{self, ConfigFile, SetupConfig};
use crate::station::keys::{self, Effect, FieldKind, KeySpec, CONFIG_FILES, KEYS, SETUP_FILE};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use FieldKind as K;

/// Every key of the three config files, in form order (grouped): the key table.
pub fn fields() -> &'static [KeySpec] {
    KEYS
}

/// A key with its current value, as the form shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldValue {
    /// What the key is.
    #[serde(flatten)]
    pub spec: KeySpec,
    /// The value as text ([`FieldKind::List`]: one entry per line; `null`: empty).
    pub value: String,
}

/// Text edits keyed by file, then key.
pub type Edits = BTreeMap<String, BTreeMap<String, String>>;

/// An invalid edit: which key, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The config file.
    pub file: String,
    /// The key.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// What applying edits redoes, said before it happens.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impact {
    /// Items that the next setup encodes again (their encode settings change).
    pub reencode_items: usize,
    /// Seconds of audio those items hold.
    pub reencode_seconds: f64,
    /// Whether the rotation is rebuilt.
    pub rotation: bool,
    /// Whether the next setup scans again from other folders or Kubo.
    pub setup: bool,
    /// Whether the stream must restart to apply a change.
    pub stream_restart: bool,
    /// Whether the health monitor must restart to apply a change.
    pub health_restart: bool,
    /// One sentence per consequence, for the operator.
    pub summary: Vec<String>,
}

/// The result of [`check`] or [`apply`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcome {
    /// Invalid edits; when not empty nothing was written.
    pub errors: Vec<FieldError>,
    /// What the edits redo.
    pub impact: Impact,
    /// Whether the files were written.
    pub applied: bool,
}

/// The file's keys over the defaults: `(merged, as on disk)`.
fn current(station: &Path, file: &str) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let path = station.join(file);
    let on_disk: Map<String, Value> = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| Error::Parse {
            file: path.clone(),
            message: e.to_string(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut merged = keys::defaults(file);
    for (k, v) in &on_disk {
        merged.insert(k.clone(), v.clone());
    }
    Ok((merged, on_disk))
}

fn as_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
    }
}

/// Every key with its current value (the file's, else the default).
///
/// Errors: [`Error::Parse`] when a config file is not a JSON object; [`Error::Io`].
pub fn load(station: &Path) -> Result<Vec<FieldValue>> {
    let mut files = BTreeMap::new();
    for file in CONFIG_FILES {
        files.insert(file, current(station, file)?.0);
    }
    Ok(KEYS
        .iter()
        .map(|spec| FieldValue {
            spec: *spec,
            value: match files.get(spec.file).and_then(|m| m.get(spec.key)) {
                // The services' list is JSON text both ways (FieldKind::Services).
                Some(v) if spec.kind == K::Services => v.to_string(),
                v => as_text(v),
            },
        })
        .collect())
}

/// Reads `text` as `spec` says. Errors are the message for the field.
fn parse_text(spec: &KeySpec, text: &str) -> std::result::Result<Value, String> {
    let t = text.trim();
    match spec.kind {
        K::Text | K::Folder => Ok(Value::String(t.to_string())),
        K::Bool => match t {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("`{t}` is not allowed: choose true or false")),
        },
        K::OptionalText => Ok(if t.is_empty() {
            Value::Null
        } else {
            Value::String(t.to_string())
        }),
        K::Number | K::OptionalNumber => {
            if t.is_empty() {
                return if spec.kind == K::OptionalNumber {
                    Ok(Value::Null)
                } else {
                    Err("a number is required".into())
                };
            }
            let n: f64 = t.parse().map_err(|_| format!("`{t}` is not a number"))?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| format!("`{t}` is not a finite number"))
        }
        K::Integer => t
            .parse::<u64>()
            .map(|n| Value::Number(n.into()))
            .map_err(|_| format!("`{t}` is not a whole number (0 or more)")),
        K::Choice => {
            if !spec.choices.contains(&t) {
                return Err(format!(
                    "`{t}` is not allowed: choose one of {}",
                    spec.choices.join(", ")
                ));
            }
            Ok(match t.parse::<u64>() {
                Ok(n) if spec.key != "codec" && spec.key != "segment_uri_style" => {
                    Value::Number(n.into())
                }
                _ => Value::String(t.to_string()),
            })
        }
        K::Services => {
            if t.is_empty() {
                return Ok(Value::Array(Vec::new()));
            }
            match serde_json::from_str::<Value>(t) {
                Ok(v @ Value::Array(_)) => Ok(v),
                _ => Err(
                    "must be a JSON list of {\"name\", \"endpoint\", \"access_token_file\"}".into(),
                ),
            }
        }
        K::List => Ok(Value::Array(
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| Value::String(l.to_string()))
                .collect(),
        )),
    }
}

/// Validates one file's merged keys with the engine's validation; `Err((key, message))`
/// for the first invalid key.
fn validate(
    station: &Path,
    file: &'static str,
    obj: &Map<String, Value>,
) -> std::result::Result<(), (String, String)> {
    let checked = ConfigFile::from_map(station.join(file), file, obj.clone())
        .and_then(|f| config::validate_file(station, &f));
    match checked {
        Ok(()) => Ok(()),
        Err(Error::Config { field, message, .. }) => {
            // `gateways[1]` belongs to the `gateways` field.
            let key = field.split(['[', '.']).next().unwrap_or(&field).to_string();
            Err((key, message))
        }
        Err(e) => Err((String::new(), e.to_string())),
    }
}

/// Checks `edits` without writing anything: every invalid key with its message, and
/// what the edits would redo. A folder setting may only change to a folder inside the
/// station folder ([`check_picked`] allows picked folders too).
///
/// Errors: [`Error::Parse`]/[`Error::Io`] when a config file cannot be read; unknown
/// files or keys are reported as [`FieldError`]s.
pub fn check(station: &Path, edits: &Edits) -> Result<Outcome> {
    check_picked(station, edits, &[])
}

/// [`check`], where a folder setting may also name a folder inside one of `picked`
/// (folders the operator picked in the native dialog, canonical).
///
/// Errors: as [`check`].
pub fn check_picked(station: &Path, edits: &Edits, picked: &[PathBuf]) -> Result<Outcome> {
    Ok(evaluate(station, edits, picked)?.0)
}

/// Why the folder setting `text` may not be applied through the form, if it may not: it
/// holds `..`, or it resolves (symbolic links followed) outside `station` and outside
/// every folder in `picked`.
fn folder_refused(station: &Path, text: &str, picked: &[PathBuf]) -> Option<String> {
    let p = Path::new(text.trim());
    if p.components().any(|c| c == std::path::Component::ParentDir) {
        return Some(format!("`{text}`: `..` is not allowed in a folder setting"));
    }
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        station.join(p)
    };
    // The part that exists, with its links resolved, then the rest as written.
    let mut existing = joined.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(n) => {
                rest.push(n.to_os_string());
                existing.pop();
            }
            None => break,
        }
    }
    let mut resolved = existing.canonicalize().unwrap_or(existing);
    resolved.extend(rest.iter().rev());
    let station = station
        .canonicalize()
        .unwrap_or_else(|_| station.to_path_buf());
    if resolved.starts_with(&station) || picked.iter().any(|f| resolved.starts_with(f)) {
        return None;
    }
    Some(format!(
        "`{}` is outside the station folder: choose it with the folder picker to use it (the console reads and writes outside the station only where you picked)",
        resolved.display()
    ))
}

type Merged = BTreeMap<&'static str, (Map<String, Value>, Map<String, Value>)>;

fn evaluate(station: &Path, edits: &Edits, picked: &[PathBuf]) -> Result<(Outcome, Merged)> {
    let mut out = Outcome::default();
    let mut merged: Merged = BTreeMap::new();
    // The values before the edits: an invalid key falls back to its old value.
    let mut before: BTreeMap<&'static str, Map<String, Value>> = BTreeMap::new();
    for file in CONFIG_FILES {
        let (all, disk) = current(station, file)?;
        before.insert(file, all.clone());
        merged.insert(file, (all, disk));
    }
    let mut changed: Vec<&KeySpec> = Vec::new();
    for (file, keys) in edits {
        for (key, text) in keys {
            let Some(spec) = keys::spec(file, key) else {
                out.errors.push(FieldError {
                    file: file.clone(),
                    key: key.clone(),
                    message: "not a setting of IPFS Station".into(),
                });
                continue;
            };
            let Some((all, disk)) = merged.get_mut(spec.file) else {
                continue;
            };
            let refused = match spec.kind {
                K::Folder => folder_refused(station, text, picked),
                K::Services => {
                    super::pinning::token_files_refused(station, all.get(spec.key), text, picked)
                }
                _ => None,
            };
            match parse_text(spec, text) {
                Ok(v) if all.get(spec.key) != Some(&v) && refused.is_some() => {
                    out.errors.push(FieldError {
                        file: file.clone(),
                        key: key.clone(),
                        message: refused.unwrap_or_default(),
                    });
                }
                Ok(v) => {
                    if all.get(spec.key) != Some(&v) {
                        changed.push(spec);
                    }
                    all.insert(spec.key.to_string(), v.clone());
                    disk.insert(spec.key.to_string(), v);
                }
                Err(message) => out.errors.push(FieldError {
                    file: file.clone(),
                    key: key.clone(),
                    message,
                }),
            }
        }
    }
    // Validate each file; an invalid key is put back to its old value so the next
    // invalid key is found too.
    for file in CONFIG_FILES {
        let Some((all, _)) = merged.get(file) else {
            continue;
        };
        let mut trial = all.clone();
        let old = before.remove(file).unwrap_or_default();
        let dflt = keys::defaults(file);
        for _ in 0..KEYS.len() {
            match validate(station, file, &trial) {
                Ok(()) => break,
                Err((key, message)) => {
                    if !out.errors.iter().any(|e| e.file == file && e.key == key) {
                        out.errors.push(FieldError {
                            file: file.to_string(),
                            key: key.clone(),
                            message,
                        });
                    }
                    let fallback = if trial.get(&key) != old.get(&key) {
                        old.get(&key).cloned()
                    } else {
                        dflt.get(&key).cloned()
                    };
                    match fallback {
                        Some(v) if trial.get(&key) != Some(&v) && !key.is_empty() => {
                            trial.insert(key, v);
                        }
                        _ => break,
                    }
                }
            }
        }
    }
    out.impact = impact(station, &changed, &merged);
    Ok((out, merged))
}

fn impact(station: &Path, changed: &[&KeySpec], merged: &Merged) -> Impact {
    let mut imp = Impact::default();
    let has = |e: Effect| changed.iter().any(|s| s.has_effect(e));
    let names = |e: Effect| -> String {
        changed
            .iter()
            .filter(|s| s.has_effect(e))
            .map(|s| s.label.to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if has(Effect::Reencode) {
        let new_cfg = merged.get(SETUP_FILE).and_then(|(all, _)| {
            let f = ConfigFile::from_map(station.join(SETUP_FILE), SETUP_FILE, all.clone()).ok()?;
            SetupConfig::from_file(station, &f).ok()
        });
        let old_cfg = SetupConfig::load(station).ok();
        if let (Some(new_cfg), Some(old_cfg)) = (new_cfg, old_cfg) {
            let hash = crate::setup::encode_settings(&new_cfg).encode_hash();
            if let Ok(m) = Manifest::load(&old_cfg.processed_dir) {
                for item in m.items.iter().filter(|i| i.encode_hash != hash) {
                    imp.reencode_items += 1;
                    imp.reencode_seconds += item.duration;
                }
            }
        }
        imp.summary.push(if imp.reencode_items == 0 {
            format!("Changing {} re-encodes nothing: no prechunked item uses other settings.", names(Effect::Reencode))
        } else {
            format!(
                "Changing {} re-encodes {} item{} ({:.0} minutes of audio) at the next setup; the old segments stay on air until then.",
                names(Effect::Reencode),
                imp.reencode_items,
                if imp.reencode_items == 1 { "" } else { "s" },
                imp.reencode_seconds / 60.0
            )
        });
    }
    if has(Effect::Rotation) {
        imp.rotation = true;
        imp.summary.push("The rotation is rebuilt at the next setup (no re-encoding); on air it takes over at the next item.".into());
    }
    if has(Effect::Setup) {
        imp.setup = true;
        imp.summary.push(format!(
            "Changing {} takes effect at the next setup.",
            names(Effect::Setup)
        ));
    }
    if has(Effect::Stream) {
        imp.stream_restart = true;
        imp.summary.push(format!(
            "Changing {} takes effect when the stream restarts.",
            names(Effect::Stream)
        ));
    }
    if has(Effect::Health) {
        imp.health_restart = true;
        imp.summary.push(format!(
            "Changing {} takes effect when the health monitor restarts.",
            names(Effect::Health)
        ));
    }
    imp
}

/// Validates `edits` as [`check`] does and, when every edit is valid, writes each
/// changed config file atomically (keys not edited keep their text on disk).
///
/// Errors: [`Error::Parse`]/[`Error::Io`] reading or writing a config file. Invalid
/// edits are not an `Err`: they come back in [`Outcome::errors`] and nothing is written.
pub fn apply(station: &Path, edits: &Edits) -> Result<Outcome> {
    apply_picked(station, edits, &[])
}

/// [`apply`], where a folder setting may also name a folder inside one of `picked` (see
/// [`check_picked`]).
///
/// Errors: as [`apply`].
pub fn apply_picked(station: &Path, edits: &Edits, picked: &[PathBuf]) -> Result<Outcome> {
    let (mut out, merged) = evaluate(station, edits, picked)?;
    if !out.errors.is_empty() {
        return Ok(out);
    }
    for file in CONFIG_FILES {
        if !edits.contains_key(file) {
            continue;
        }
        if let Some((_, disk)) = merged.get(file) {
            crate::station::atomic::write_json_atomic(
                &station.join(file),
                &Value::Object(disk.clone()),
            )?;
        }
    }
    out.applied = true;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::keys::{HEALTH_FILE, STREAMING_FILE};

    fn edits(list: &[(&str, &str, &str)]) -> Edits {
        let mut e = Edits::new();
        for (f, k, v) in list {
            e.entry(f.to_string())
                .or_default()
                .insert(k.to_string(), v.to_string());
        }
        e
    }

    #[test]
    fn invalid_edits_name_each_field_and_write_nothing() {
        let d = tempfile::tempdir().unwrap();
        crate::station::init(d.path()).unwrap();
        let before = std::fs::read_to_string(d.path().join(SETUP_FILE)).unwrap();
        let out = apply(
            d.path(),
            &edits(&[
                (SETUP_FILE, "segment_duration", "45"),
                (SETUP_FILE, "bitrate", "lots"),
                (SETUP_FILE, "jingle_cycle", "abc"),
                (STREAMING_FILE, "lookahead_segments", "60"),
                (HEALTH_FILE, "gateways", "http://127.0.0.1:8080\nnot a url"),
            ]),
        )
        .unwrap();
        assert!(!out.applied);
        let keys: Vec<(&str, &str)> = out
            .errors
            .iter()
            .map(|e| (e.file.as_str(), e.key.as_str()))
            .collect();
        for want in [
            (SETUP_FILE, "segment_duration"),
            (SETUP_FILE, "bitrate"),
            (SETUP_FILE, "jingle_cycle"),
            (STREAMING_FILE, "lookahead_segments"),
            (HEALTH_FILE, "gateways"),
        ] {
            assert!(
                keys.contains(&want),
                "{want:?} missing from {:?}",
                out.errors
            );
        }
        let msg = &out
            .errors
            .iter()
            .find(|e| e.key == "segment_duration")
            .unwrap()
            .message;
        assert!(msg.contains("30"), "{msg}");
        assert_eq!(
            std::fs::read_to_string(d.path().join(SETUP_FILE)).unwrap(),
            before
        );
    }

    #[test]
    fn valid_edits_are_written_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        crate::station::init(d.path()).unwrap();
        let out = apply(
            d.path(),
            &edits(&[
                (SETUP_FILE, "jingle_cycle", "5"),
                (SETUP_FILE, "loudness_target_lufs", ""),
                (STREAMING_FILE, "window_size", "80"),
                (HEALTH_FILE, "public_gateways", ""),
            ]),
        )
        .unwrap();
        assert!(out.applied, "{:?}", out.errors);
        assert!(out.impact.rotation && out.impact.stream_restart && out.impact.health_restart);
        let cfg = crate::station::config::SetupConfig::load(d.path()).unwrap();
        assert_eq!(cfg.jingle_cycle, 5);
        assert_eq!(cfg.loudness_target, None);
        let h = crate::station::config::HealthConfig::load(d.path()).unwrap();
        assert!(h.public_gateways.is_empty());
        let v = load(d.path()).unwrap();
        let get = |k: &str| v.iter().find(|f| f.spec.key == k).unwrap().value.clone();
        assert_eq!(get("window_size"), "80");
        assert_eq!(get("loudness_target_lufs"), "");
        assert_eq!(get("gateways"), "http://127.0.0.1:8080");
        assert_eq!(get("ipns_key"), crate::station::key_name_for(d.path()));
    }
}
