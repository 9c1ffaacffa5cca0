//! The station: its folder and its three validated config files, opened once as a
//! [`Station`] value and passed to everything; creating one (`station init`), the demo
//! station, the bundled default jingles.
//!
//! Layout (DESIGN.md "The station directory"): the three config files at the top,
//! `music/` and `jingles/` for the operator's sources, `data/processed/` (the streamer's
//! only input) and `data/state/`.

pub mod atomic;
pub mod config;
pub mod housekeeping;
pub mod keys;
pub mod process;
pub mod remote_pinning;
pub mod state;
pub mod text;

use crate::error::{Error, Result};
use config::{ConfigFile, HealthConfig, SetupConfig, StreamingConfig};
use keys::{HEALTH_FILE, SETUP_FILE, STREAMING_FILE};
use std::path::{Path, PathBuf};

/// One station, opened once: the folder and its three validated config files.
///
/// Every setting is owned by exactly one file ([`keys::KEYS`]); a station folder written
/// by an older version, with a setting in two files, still opens, and [`Station::notes`]
/// says which key now rules. After a settings change, [`Station::reload`] gives the new
/// value.
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    dir: PathBuf,
    /// `setup.config.json`: what to prechunk and how, and where it goes.
    pub setup: SetupConfig,
    /// `streaming.config.json`: the on-air loop, Kubo, the state folder.
    pub streaming: StreamingConfig,
    /// `health.config.json`: the monitor.
    pub health: HealthConfig,
    notes: Vec<String>,
}

impl Station {
    /// Opens the station in `dir`: reads and validates its three config files (a
    /// missing `streaming.config.json` or `health.config.json` means every default).
    /// The station's folder is kept canonical (absolute, links resolved), so every path
    /// derived from it is spelled one way whatever spelling the caller used.
    ///
    /// Errors: [`Error::Station`] when `dir` has no `setup.config.json` (not a station:
    /// `station init` makes one); [`Error::Io`], [`Error::Parse`] or [`Error::Config`]
    /// naming the file and key.
    pub fn open(dir: &Path) -> Result<Station> {
        // `--station radio`, `--station /srv/radio` and a symlink to it: one station.
        let canonical = dir.canonicalize().ok();
        let dir = canonical.as_deref().unwrap_or(dir);
        if !dir.join(SETUP_FILE).is_file() {
            return Err(Error::Station {
                dir: dir.to_path_buf(),
                message: format!(
                    "not a station folder: {SETUP_FILE} is missing (create a station with `station init {}`)",
                    dir.display()
                ),
            });
        }
        let files = [
            ConfigFile::read(dir, SETUP_FILE)?,
            ConfigFile::read(dir, STREAMING_FILE)?,
            ConfigFile::read(dir, HEALTH_FILE)?,
        ];
        let mut station = Station {
            dir: dir.to_path_buf(),
            setup: SetupConfig::from_file(dir, &files[0])?,
            streaming: StreamingConfig::from_file(dir, &files[1])?,
            health: HealthConfig::from_file(&files[2])?,
            notes: Vec::new(),
        };
        for file in &files {
            for (legacy, value) in file.legacy() {
                if legacy.key == "warm_gateways" {
                    let note = station.adopt_warm_gateways(file, value);
                    station.notes.push(note);
                    continue;
                }
                let ruling = station.ruling_value(legacy.key);
                let written = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                let mut note = format!(
                    "{}: `{}` is no longer read there; `{}` in {} rules ({ruling})",
                    legacy.file, legacy.key, legacy.key, legacy.rules_in
                );
                if written.trim_end_matches('/') != ruling {
                    note.push_str(&format!(
                        "; the old value {written} in {} is ignored",
                        legacy.file
                    ));
                }
                station.notes.push(note);
            }
        }
        if station.streaming.warm_public_gateways {
            station.streaming.warm_gateways = station.health.public_gateways.clone();
        }
        Ok(station)
    }

    /// An older `streaming.config.json`'s `warm_gateways` (`value`): its gateways join
    /// `public_gateways` (checked and warmed, the one list since issue 19); one that is
    /// not an http(s) URL is named in the returned note and left out.
    fn adopt_warm_gateways(&mut self, file: &ConfigFile, value: &serde_json::Value) -> String {
        let mut added = Vec::new();
        let mut refused = Vec::new();
        let listed: Vec<&serde_json::Value> = match value {
            serde_json::Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for (i, v) in listed.into_iter().enumerate() {
            let url = v
                .as_str()
                .ok_or_else(|| format!("warm_gateways[{i}] is not text"))
                .and_then(|u| {
                    file.http_url(&format!("warm_gateways[{i}]"), u)
                        .map_err(|e| e.to_string())
                });
            match url {
                Ok(u) if self.health.public_gateways.contains(&u) => {}
                Ok(u) => {
                    self.health.public_gateways.push(u.clone());
                    added.push(u);
                }
                Err(e) => refused.push(e),
            }
        }
        let mut note = format!(
            "{STREAMING}: `warm_gateways` is no longer read there: `public_gateways` in {HEALTH} is the one list of public gateways, checked and warmed",
            STREAMING = keys::STREAMING_FILE,
            HEALTH = keys::HEALTH_FILE
        );
        if !added.is_empty() {
            note.push_str(&format!(
                "; {} from it are used too until you move them there",
                added.join(", ")
            ));
        }
        for r in refused {
            note.push_str(&format!("; left out: {r}"));
        }
        note
    }

    /// The value that rules for a key that moved ([`keys::LEGACY`]), as text.
    fn ruling_value(&self, key: &str) -> String {
        match key {
            "kubo_api" => self.streaming.kubo_api.clone(),
            "processed_dir" => {
                let p = &self.setup.processed_dir;
                p.strip_prefix(&self.dir).unwrap_or(p).display().to_string()
            }
            _ => String::new(),
        }
    }

    /// Opens the station again (after a settings change).
    ///
    /// Errors: as [`Station::open`].
    pub fn reload(&self) -> Result<Station> {
        Station::open(&self.dir)
    }

    /// The station folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The station's name: its folder name.
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().to_string())
    }

    /// The processed folder (`manifest.json`, `playlist.m3u`, `items/`): setup's output
    /// and the streamer's only input.
    pub fn processed_dir(&self) -> &Path {
        &self.setup.processed_dir
    }

    /// The state folder (`data/state` unless `state_dir` says otherwise).
    pub fn state_dir(&self) -> &Path {
        &self.streaming.state_dir
    }

    /// The state folder protocol ([`state::StateDir`]).
    pub fn state(&self) -> state::StateDir {
        state::StateDir::new(&self.streaming.state_dir)
    }

    /// The Kubo RPC API base URL (setup adds through it, the streamer publishes).
    pub fn kubo_api(&self) -> &str {
        &self.streaming.kubo_api
    }

    /// The gateway listeners use locally: the first gateway the health monitor checks,
    /// else Kubo's default (`http://127.0.0.1:8080`).
    pub fn local_gateway(&self) -> String {
        self.health
            .gateways
            .first()
            .cloned()
            .unwrap_or_else(|| keys::DEFAULT_GATEWAY.into())
    }

    /// What the operator should know about the config files (e.g. a key that moved),
    /// one sentence each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

static BUNDLED_JINGLES: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/jingles");

/// The default jingles shipped with the app: `(file name, bytes)`, sorted by name.
pub fn bundled_jingles() -> Vec<(&'static str, &'static [u8])> {
    let mut v: Vec<(&'static str, &'static [u8])> = BUNDLED_JINGLES
        .files()
        .filter_map(|f| {
            let name = f.path().file_name()?.to_str()?;
            (!name.starts_with('.') && !name.ends_with(".md")).then_some((name, f.contents()))
        })
        .collect();
    v.sort_by_key(|(n, _)| *n);
    v
}

/// Where stations live by default: the platform data dir (e.g.
/// `~/.local/share/ipfs-station`), via `dirs`.
pub fn default_root() -> PathBuf {
    dirs::data_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("ipfs-station")
}

/// The Kubo key name `station init` gives a station in `dir`: `ipfs-station-<folder
/// name>` reduced to letters, digits, `-`, `_` (at most 64 characters), so two stations
/// on one Kubo never publish under the same IPNS name by accident.
pub fn key_name_for(dir: &Path) -> String {
    let folder: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let folder = folder.trim_matches('-');
    let mut name = if folder.is_empty() {
        "ipfs-station".to_string()
    } else {
        format!("ipfs-station-{folder}")
    };
    name.truncate(64);
    name
}

/// What [`init`] created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    /// The station directory.
    pub dir: PathBuf,
    /// Jingle files copied into `jingles/`.
    pub jingles: Vec<String>,
}

/// Creates a station in `dir`: the three config files with every key at its default,
/// empty `music/`, `jingles/` filled with the bundled jingles (when it holds no files
/// yet), and `data/processed`, `data/state`.
///
/// Errors: [`Error::Station`] when a config file already exists there (nothing is
/// overwritten); [`Error::Io`] when a file cannot be written.
pub fn init(dir: &Path) -> Result<InitReport> {
    for f in [SETUP_FILE, STREAMING_FILE, HEALTH_FILE] {
        if dir.join(f).exists() {
            return Err(Error::Station {
                dir: dir.to_path_buf(),
                message: format!("already a station ({f} exists); nothing was overwritten"),
            });
        }
    }
    for sub in ["music", "jingles", "data/processed", "data/state"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    let jdir = dir.join("jingles");
    let mut jingles = Vec::new();
    let empty = std::fs::read_dir(&jdir)
        .map_err(|e| Error::io(&jdir, e))?
        .next()
        .is_none();
    if empty {
        for (name, bytes) in bundled_jingles() {
            atomic::write_atomic(&jdir.join(name), bytes)?;
            jingles.push(name.to_string());
        }
    }
    for file in keys::CONFIG_FILES {
        let mut values = keys::defaults(file);
        if file == STREAMING_FILE {
            values.insert("ipns_key".into(), key_name_for(dir).into());
        }
        atomic::write_json_atomic(&dir.join(file), &serde_json::Value::Object(values))?;
    }
    Ok(InitReport {
        dir: dir.to_path_buf(),
        jingles,
    })
}

/// Where the demo station's music comes from: Debian's `lincity-ng-data` package (free
/// music under the GPL, shipped as Ogg Vorbis).
pub const DEMO_MUSIC: &str = "/usr/share/games/lincity-ng/music/default";

/// Creates (when needed) a demo station in `dir`: [`init`], then the audio files of
/// [`DEMO_MUSIC`] copied into `music/` (files already there are kept). Returns how many
/// files were copied.
///
/// Errors: those of [`init`]; [`Error::Station`] when [`DEMO_MUSIC`] is missing (with the
/// package to install); [`Error::Io`] when a copy fails.
pub fn create_demo(dir: &Path) -> Result<usize> {
    if !dir.join(SETUP_FILE).exists() {
        init(dir)?;
    }
    let src = Path::new(DEMO_MUSIC);
    let rd = std::fs::read_dir(src).map_err(|_| Error::Station {
        dir: src.to_path_buf(),
        message: "the demo's music comes from Debian's lincity-ng-data package: apt-get install lincity-ng-data".into(),
    })?;
    let music = dir.join("music");
    std::fs::create_dir_all(&music).map_err(|e| Error::io(&music, e))?;
    let mut copied = 0;
    for e in rd.flatten() {
        let p = e.path();
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let audio = ["ogg", "oga", "opus", "mp3", "flac", "wav", "m4a"].contains(&ext.as_str());
        if let (true, Some(name)) = (audio, p.file_name()) {
            let to = music.join(name);
            if !to.exists() {
                let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
                atomic::write_atomic(&to, &bytes)?;
                copied += 1;
            }
        }
    }
    Ok(copied)
}

/// The console's own settings file: `<config dir>/ipfs-station/console.json` (via
/// `dirs`, e.g. `~/.config/ipfs-station/console.json`).
pub fn console_file() -> PathBuf {
    dirs::config_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("ipfs-station")
        .join("console.json")
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct ConsoleFile {
    last_station: Option<PathBuf>,
}

/// The station the console opened last, when it still is a station.
pub fn last_opened() -> Option<PathBuf> {
    let f: ConsoleFile = atomic::read_json(&console_file()).ok()?;
    f.last_station.filter(|d| d.join(SETUP_FILE).is_file())
}

/// Records `dir` as the station the console opens next time (atomically).
///
/// Errors: [`Error::Io`] when the console file cannot be written.
pub fn remember_opened(dir: &Path) -> Result<()> {
    let file = console_file();
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    atomic::write_json_atomic(
        &file,
        &ConsoleFile {
            last_station: Some(dir.to_path_buf()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_a_valid_station_and_refuses_to_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let st = d.path().join("st");
        let r = init(&st).unwrap();
        assert!(r.jingles.len() >= 2, "bundled jingles: {:?}", r.jingles);
        crate::station::config::SetupConfig::load(&st).unwrap();
        crate::station::config::StreamingConfig::load(&st).unwrap();
        crate::station::config::HealthConfig::load(&st).unwrap();
        assert!(st.join("music").is_dir() && st.join("data/processed").is_dir());
        assert_eq!(
            crate::station::config::StreamingConfig::load(&st)
                .unwrap()
                .ipns_key,
            "ipfs-station-st"
        );
        assert_eq!(
            key_name_for(Path::new("/x/My Radio ♪")),
            "ipfs-station-my-radio"
        );
        std::fs::write(st.join(SETUP_FILE), "{\"jingle_cycle\": 5}").unwrap();
        let e = init(&st).unwrap_err().to_string();
        assert!(e.contains("already a station"), "{e}");
        assert_eq!(
            std::fs::read_to_string(st.join(SETUP_FILE)).unwrap(),
            "{\"jingle_cycle\": 5}"
        );
    }

    /// Issue 19: one list of public gateways. An older streaming file's `warm_gateways`
    /// joins `public_gateways` (checked and warmed) with a note; a bad entry is left out
    /// and named; `warm_public_gateways: false` stops the warming, not the checks.
    #[test]
    fn warm_gateways_of_an_older_file_join_the_one_public_list() {
        let d = tempfile::tempdir().unwrap();
        let st = d.path().join("st");
        init(&st).unwrap();
        let write = |file: &str, json: &str| std::fs::write(st.join(file), json).unwrap();
        write(HEALTH_FILE, r#"{"public_gateways": ["https://ipfs.io"]}"#);
        write(
            STREAMING_FILE,
            r#"{"warm_gateways": ["https://ipfs.io/", "https://gw.example.org", "ftp://x"]}"#,
        );
        let s = Station::open(&st).unwrap();
        let both = vec![
            "https://ipfs.io".to_string(),
            "https://gw.example.org".to_string(),
        ];
        assert_eq!(s.health.public_gateways, both, "checked");
        assert_eq!(s.streaming.warm_gateways, both, "warmed");
        let note = s.notes().join("\n");
        assert!(
            note.contains("warm_gateways")
                && note.contains("public_gateways")
                && note.contains("https://gw.example.org")
                && note.contains("warm_gateways[2]"),
            "{note}"
        );
        write(STREAMING_FILE, r#"{"warm_public_gateways": false}"#);
        let s = Station::open(&st).unwrap();
        assert_eq!(
            s.health.public_gateways,
            vec!["https://ipfs.io".to_string()]
        );
        assert!(s.streaming.warm_gateways.is_empty());
        assert!(s.notes().is_empty(), "{:?}", s.notes());
        // The default: the public gateways are warmed.
        write(STREAMING_FILE, "{}");
        let s = Station::open(&st).unwrap();
        assert_eq!(s.streaming.warm_gateways, s.health.public_gateways);
    }
}
