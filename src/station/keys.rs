//! Every key of the three config files, defined once ([`KEYS`]): its file, name, default,
//! and how the settings form shows it. Validation ([`super::config`]), the files
//! `station init` writes, the settings form ([`crate::console::settings`]) and the
//! README's configuration tables ([`readme_tables`]) all read this one table; a test
//! fails when the README and the table disagree.
//!
//! Each setting lives in exactly one file. Keys that older versions read from a second
//! file ([`LEGACY`]) are still accepted there, with a note saying which key now rules.

use serde::Serialize;
use serde_json::{Map, Value};

/// File name of the setup config inside a station directory.
pub const SETUP_FILE: &str = "setup.config.json";
/// File name of the streaming config inside a station directory.
pub const STREAMING_FILE: &str = "streaming.config.json";
/// File name of the health config inside a station directory.
pub const HEALTH_FILE: &str = "health.config.json";
/// The three config files, in the order they are documented.
pub const CONFIG_FILES: [&str; 3] = [SETUP_FILE, STREAMING_FILE, HEALTH_FILE];

/// Default Kubo RPC API address (loopback only: the RPC API is admin access to the node).
pub const DEFAULT_KUBO_API: &str = "http://127.0.0.1:5001";
/// Default Kubo gateway; `127.0.0.1`, not `localhost`, which redirects to a subdomain
/// gateway many clients cannot resolve (kubo-rpc.md section 4).
pub const DEFAULT_GATEWAY: &str = "http://127.0.0.1:8080";

/// How a key's text is read in the settings form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text (paths, URLs, names, Go durations like `48h`).
    Text,
    /// A number (decimal point allowed).
    Number,
    /// A whole number, 0 or more.
    Integer,
    /// A number, or empty for `null` (e.g. normalization off).
    OptionalNumber,
    /// Text, or empty for `null`.
    OptionalText,
    /// One of [`KeySpec::choices`].
    Choice,
    /// A list, one entry per line (empty lines are dropped).
    List,
    /// `true` or `false` ([`KeySpec::choices`] lists both).
    Bool,
    /// A folder path (free text, like [`FieldKind::Text`]); the console offers its
    /// folder picker, and outside the station folder only a picked folder is accepted.
    Folder,
    /// A list of pinning services (`remote_pinning`), as JSON text; the console's
    /// settings edit it in a section of its own (add with the token file picked in the
    /// native dialog, remove).
    Services,
}

/// What a change of the key makes the station redo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Re-encodes (prechunks again) every item whose encode settings change.
    Reencode,
    /// Rewrites the rotation (`playlist.m3u`) at the next setup.
    Rotation,
    /// Where setup reads or writes: the next setup scans again.
    Setup,
    /// Read by the streamer when it starts: restart the stream to apply.
    Stream,
    /// Read by the health monitor when it starts.
    Health,
}

/// One key of one config file: the single definition every other part reads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KeySpec {
    /// The config file ([`SETUP_FILE`], [`STREAMING_FILE`] or [`HEALTH_FILE`]).
    pub file: &'static str,
    /// The key in that file.
    pub key: &'static str,
    /// The default, as JSON text (`6`, `"music"`, `null`, `["http://..."]`): what a
    /// missing key means and what `station init` writes.
    pub default: &'static str,
    /// Form group: `Library`, `Encoding`, `Kubo`, `Remote pinning`, `On air` or `Health`.
    pub group: &'static str,
    /// Label for the form.
    pub label: &'static str,
    /// How the text is read.
    pub kind: FieldKind,
    /// Allowed values for [`FieldKind::Choice`].
    pub choices: &'static [&'static str],
    /// What the key means: unit, range, what it does (the form's help and the README's
    /// "meaning" column).
    pub help: &'static str,
    /// What a change redoes.
    pub effects: &'static [Effect],
}

impl KeySpec {
    /// The default as a JSON value (`Value::Null` when it is `null`).
    pub fn default_value(&self) -> Value {
        serde_json::from_str(self.default).unwrap_or(Value::Null)
    }

    /// Whether a change of this key redoes `effect`.
    pub fn has_effect(&self, effect: Effect) -> bool {
        self.effects.contains(&effect)
    }
}

#[allow(clippy::too_many_arguments)]
const fn k(
    file: &'static str,
    key: &'static str,
    default: &'static str,
    group: &'static str,
    label: &'static str,
    kind: FieldKind,
    help: &'static str,
    effects: &'static [Effect],
) -> KeySpec {
    KeySpec {
        file,
        key,
        default,
        group,
        label,
        kind,
        choices: &[],
        help,
        effects,
    }
}

use Effect as E;
use FieldKind as K;

/// Every key, in form and README order (grouped by file, then by form group).
pub static KEYS: &[KeySpec] = &[
    k(SETUP_FILE, "music_dir", "\"music\"", "Library", "Music folder", K::Folder, "Folder of music sources (scanned recursively), relative to the station folder or absolute.", &[E::Setup]),
    k(SETUP_FILE, "jingles_dir", "\"jingles\"", "Library", "Jingles folder", K::Folder, "Folder of jingle sources (station IDs).", &[E::Setup]),
    k(SETUP_FILE, "processed_dir", "\"data/processed\"", "Library", "Processed folder", K::Folder, "Where setup writes `manifest.json`, `playlist.m3u` and `items/`: the streamer's only input. Must not overlap the source folders.", &[E::Setup, E::Stream]),
    k(SETUP_FILE, "jingle_cycle", "3", "Library", "Tracks between jingles", K::Integer, "A jingle plays after this many tracks (1 to 1000); the jingles take turns.", &[E::Rotation]),
    k(SETUP_FILE, "trash_retention_days", "30", "Library", "Keep removed sources", K::Integer, "Days a source taken out of the library stays in the station's `trash/` folder (0 to 36500); setup deletes older ones. 0 keeps them forever.", &[E::Setup]),
    k(SETUP_FILE, "segment_duration", "6", "Encoding", "Segment duration", K::Number, "Target HLS segment length in seconds (1 to 30).", &[E::Reencode]),
    KeySpec { choices: &["aac"], ..k(SETUP_FILE, "codec", "\"aac\"", "Encoding", "Codec", K::Choice, "Audio codec of the segments (only AAC).", &[E::Reencode]) },
    k(SETUP_FILE, "bitrate", "\"128k\"", "Encoding", "Bitrate", K::Text, "Audio bitrate in kilobits per second, like `128k` (32k to 320k).", &[E::Reencode]),
    KeySpec { choices: &["22050", "24000", "32000", "44100", "48000"], ..k(SETUP_FILE, "sample_rate", "44100", "Encoding", "Sample rate", K::Choice, "Output sample rate in Hz: 22050, 24000, 32000, 44100 or 48000.", &[E::Reencode]) },
    KeySpec { choices: &["1", "2"], ..k(SETUP_FILE, "channels", "2", "Encoding", "Channels", K::Choice, "1 (mono) or 2 (stereo).", &[E::Reencode]) },
    k(SETUP_FILE, "loudness_target_lufs", "-16", "Encoding", "Loudness target", K::OptionalNumber, "EBU R128 integrated loudness every item is normalized to, in LUFS (-40 to -5); `null` (empty) turns normalization off.", &[E::Reencode]),
    k(SETUP_FILE, "jobs", "0", "Encoding", "Parallel encodes", K::Integer, "ffmpeg processes at once (0 to 256); 0 uses every core.", &[E::Setup]),
    k(SETUP_FILE, "add_batch_size", "50", "Kubo", "Segments per add", K::Integer, "Segments sent to Kubo in one `add` request (1 to 1000).", &[E::Setup]),
    k(SETUP_FILE, "remote_pinning", "[]", "Remote pinning", "Pinning services", K::Services, "Pinning services (IPFS Pinning Service API: IPFS Cluster's `pinsvcapi`, Pinata, Filebase, ...) that keep the library when this machine is off: a list of `{\"name\", \"endpoint\", \"access_token_file\"}`. `endpoint` is https:// (http:// on this machine only), without `/pins`; the token file must be readable by its owner only (`chmod 600`). Each library version is one pin request per service, replaced by the next (see the README's remote pinning).", &[E::Setup, E::Stream]),
    k(STREAMING_FILE, "kubo_api", "\"http://127.0.0.1:5001\"", "Kubo", "Kubo API", K::Text, "Kubo RPC API that setup adds segments to and the streamer publishes through (http:// or https://). On this machine (loopback) unless `allow_remote_kubo` is `true`.", &[E::Setup, E::Stream]),
    KeySpec { choices: &["false", "true"], ..k(STREAMING_FILE, "allow_remote_kubo", "false", "Kubo", "Allow a remote Kubo API", K::Bool, "Whether `kubo_api` may name another machine than this one (loopback: 127.0.0.0/8, `localhost`, `[::1]`). Kubo's RPC API is admin access to the node (keys, pins, config, shutdown) with no login of its own: set `true` only for a node you reach over a network you trust.", &[E::Setup, E::Stream]) },
    k(STREAMING_FILE, "ipns_key", "\"ipfs-station\"", "Kubo", "IPNS key", K::Text, "Kubo key the stream is published under (created when missing): 1-64 letters, digits, `-`, `_`, `.`. `station init` names it after the station folder (`ipfs-station-<folder>`), so two stations on one Kubo never share an IPNS name.", &[E::Stream]),
    k(STREAMING_FILE, "ipns_lifetime", "\"48h\"", "Kubo", "IPNS record lifetime", K::Text, "How long a published IPNS record stays valid, as a Go duration (at least `1m`; no `d` unit).", &[E::Stream]),
    k(STREAMING_FILE, "ipns_ttl", "\"5s\"", "Kubo", "IPNS record TTL", K::Text, "How long resolvers may cache the record, as a Go duration (`1s` to `1h`).", &[E::Stream]),
    k(STREAMING_FILE, "publish_timeout", "120", "Kubo", "Publish timeout", K::Number, "Seconds one add + publish may take before it is abandoned and retried (1 to 3600).", &[E::Stream]),
    k(STREAMING_FILE, "state_dir", "\"data/state\"", "On air", "State folder", K::Folder, "Where the station keeps its state: `stream_state.json`, `health.json`, locks and logs.", &[E::Stream, E::Health]),
    k(STREAMING_FILE, "window_size", "60", "On air", "Live window", K::Integer, "Segments in each published playlist, lookahead included (3 to 1000); the ones before the live point serve listeners whose gateway view is fresher than their playlist.", &[E::Stream]),
    k(STREAMING_FILE, "lookahead_segments", "36", "On air", "Lookahead", K::Integer, "Segments published past the live edge, less than `window_size`. A gateway's newest playlist can be two publish times (online, the DHT put takes up to a minute), a segment and the record TTL old, plus the gateway's own lag, and the player wants three target durations ahead: 36 segments of 6 s (216 s) cover 60 s puts seen through a gateway 60 s behind (see the README's measurements; the monitor warns when publishes outgrow it).", &[E::Stream]),
    k(STREAMING_FILE, "update_interval", "null", "On air", "Update interval", K::OptionalNumber, "Seconds between publishes (0.5 to 600); `null` (empty) = the segment duration.", &[E::Stream]),
    KeySpec { choices: &["relative", "path", "bare", "absolute"], ..k(STREAMING_FILE, "segment_uri_style", "\"relative\"", "On air", "Segment URIs", K::Choice, "`relative`: `s/<media sequence>.ts` inside the station's site, on path and subdomain gateways alike; `path`: `/ipfs/<cid>?filename=seg_00000.ts` (path gateways only); `bare`: `/ipfs/<cid>`; `absolute`: `<segment_base_url>/ipfs/<cid>?filename=...`.", &[E::Stream]) },
    k(STREAMING_FILE, "segment_base_url", "null", "On air", "Segment base URL", K::OptionalText, "Gateway base URL for `absolute` segment URIs, e.g. `https://ipfs.io`.", &[E::Stream]),
    KeySpec { choices: &["false", "true"], ..k(STREAMING_FILE, "ipns_pubsub", "false", "Kubo", "IPNS over PubSub", K::Bool, "Whether the console's managed Kubo runs with IPNS over PubSub (`ipfs daemon --enable-namesys-pubsub`): each publish also goes to a pubsub topic, so resolvers that subscribed (other Kubo nodes with it on) learn a new window in seconds instead of after a DHT lookup. It does not speed up gateways or browsers that did not turn it on, which is most public gateways; a daemon you run yourself needs the flag or `Ipns.UsePubsub` itself.", &[E::Stream]) },
    KeySpec { choices: &["true", "false"], ..k(STREAMING_FILE, "warm_public_gateways", "true", "On air", "Warm public gateways", K::Bool, "Whether the streamer asks each public gateway (`public_gateways` in health.config.json) for every segment as it enters the lookahead, nearest air time first, so it has it cached before its listeners ask (a cold gateway needs seconds per CID to find this node).", &[E::Stream]) },
    k(STREAMING_FILE, "preview_port", "8090", "On air", "Preview port", K::Integer, "Port of `station stream --preview` (127.0.0.1 only).", &[E::Stream]),
    k(HEALTH_FILE, "gateways", "[\"http://127.0.0.1:8080\"]", "Health", "Local gateways", K::List, "Local gateways checked every interval, one URL per line.", &[E::Health]),
    k(HEALTH_FILE, "public_gateways", "[\"https://ipfs.io\", \"https://dweb.link\"]", "Health", "Public gateways", K::List, "Public gateways your listeners use, one URL per line: the monitor checks them (their failures only warn) and the streamer warms them with every segment ahead of air (`warm_public_gateways`); an empty list turns both off.", &[E::Health, E::Stream]),
    k(HEALTH_FILE, "interval", "30", "Health", "Check interval", K::Number, "Seconds between checks (1 to 86400).", &[E::Health]),
    k(HEALTH_FILE, "segments_per_check", "2", "Health", "Segments per check", K::Integer, "Segments at the live point fetched and decoded per check (1 to 50).", &[E::Health]),
    k(HEALTH_FILE, "silence_threshold_dbfs", "-50", "Health", "Silence threshold", K::Number, "RMS level in dBFS under which audio counts as silence (-120 to 0).", &[E::Health]),
    k(HEALTH_FILE, "silence_min_seconds", "2", "Health", "Silence alarm after", K::Number, "Seconds of silence before it is flagged (0.1 to 3600).", &[E::Health]),
    k(HEALTH_FILE, "clip_threshold_dbfs", "-0.1", "Health", "Clipping threshold", K::Number, "Peak level in dBFS at or over which audio counts as clipped (-20 to 0).", &[E::Health]),
    k(HEALTH_FILE, "max_lag_seconds", "120", "Health", "Allowed lag", K::Number, "Seconds the live point may trail the wall clock before the stream counts as lagging (1 to 86400).", &[E::Health]),
    k(HEALTH_FILE, "request_timeout", "20", "Health", "Request timeout", K::Number, "Seconds per segment request (0.5 to 600).", &[E::Health]),
    k(HEALTH_FILE, "resolve_timeout", "60", "Health", "Resolve timeout", K::Number, "Seconds for the playlist request `/ipns/<name>` (1 to 600): a gateway that has not cached the name resolves it through the DHT first, which takes up to about a minute.", &[E::Health]),
];

/// A key an older version read from a second file: accepted there, not read, with a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyKey {
    /// The file that may still hold it.
    pub file: &'static str,
    /// The key.
    pub key: &'static str,
    /// The file whose key now rules.
    pub rules_in: &'static str,
    /// The key that rules there (the same name, unless it was renamed).
    pub now: &'static str,
}

/// Keys that moved: `kubo_api` is read from `streaming.config.json` only, `processed_dir`
/// from `setup.config.json` only; `warm_gateways` (streaming) became the one list of
/// public gateways, `public_gateways` (health), checked and warmed: the gateways an
/// older file lists there are added to it ([`crate::station::Station::open`]).
pub static LEGACY: &[LegacyKey] = &[
    LegacyKey {
        file: SETUP_FILE,
        key: "kubo_api",
        rules_in: STREAMING_FILE,
        now: "kubo_api",
    },
    LegacyKey {
        file: STREAMING_FILE,
        key: "processed_dir",
        rules_in: SETUP_FILE,
        now: "processed_dir",
    },
    LegacyKey {
        file: STREAMING_FILE,
        key: "warm_gateways",
        rules_in: HEALTH_FILE,
        now: "public_gateways",
    },
];

/// The spec of `key` in `file`.
pub fn spec(file: &str, key: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|s| s.file == file && s.key == key)
}

/// The keys of `file`, in order.
pub fn keys_of(file: &str) -> impl Iterator<Item = &'static KeySpec> + '_ {
    KEYS.iter().filter(move |s| s.file == file)
}

/// Every key of `file` with its default: the file `station init` writes.
pub fn defaults(file: &str) -> Map<String, Value> {
    keys_of(file)
        .map(|s| (s.key.to_string(), s.default_value()))
        .collect()
}

/// The README's configuration tables: one `### <file>` section per config file with a
/// `| key | default | meaning |` table, generated from [`KEYS`].
pub fn readme_tables() -> String {
    let mut out = String::new();
    for file in CONFIG_FILES {
        out.push_str(&format!(
            "### `{file}`\n\n| key | default | meaning |\n|---|---|---|\n"
        ));
        for s in keys_of(file) {
            out.push_str(&format!(
                "| `{}` | `{}` | {} |\n",
                s.key,
                s.default,
                s.help.replace('|', "\\|")
            ));
        }
        for l in LEGACY.iter().filter(|l| l.file == file) {
            out.push_str(&format!(
                "| `{}` | | no longer read: `{}` in `{}` rules (kept for older stations, with a note{}) |\n",
                l.key,
                l.now,
                l.rules_in,
                if l.now == l.key { "" } else { "; what it lists is added there" }
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_json_and_keys_are_unique() {
        for s in KEYS {
            assert!(
                serde_json::from_str::<Value>(s.default).is_ok(),
                "{}: {} is not JSON",
                s.key,
                s.default
            );
            assert_eq!(
                KEYS.iter()
                    .filter(|o| o.file == s.file && o.key == s.key)
                    .count(),
                1,
                "{} twice",
                s.key
            );
            if s.kind == FieldKind::Choice {
                let d = s.default_value();
                let text = d.as_str().map_or_else(|| d.to_string(), str::to_string);
                assert!(s.choices.contains(&text.as_str()), "{}", s.key);
            }
        }
        for l in LEGACY {
            assert!(spec(l.file, l.key).is_none(), "{} is both", l.key);
            assert!(spec(l.rules_in, l.now).is_some(), "{} rules nowhere", l.key);
        }
    }

    /// The README's tables are the table's: regenerate with `readme_tables()` when this
    /// fails (the expected text is printed).
    #[test]
    fn readme_configuration_tables_match_the_key_table() {
        let readme = include_str!("../../README.md");
        let begin = "<!-- config-tables:begin -->\n";
        let end = "<!-- config-tables:end -->";
        let start = readme
            .find(begin)
            .expect("README has the config-tables markers")
            + begin.len();
        let stop = readme[start..].find(end).expect("end marker") + start;
        let expected = readme_tables();
        assert!(
            readme[start..stop] == expected,
            "README.md's configuration tables differ from station::keys::KEYS; replace the text between the markers with:\n{expected}"
        );
    }
}
