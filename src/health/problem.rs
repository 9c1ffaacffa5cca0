//! What a health check can find wrong, as values: each [`Problem`] knows what it means
//! for listeners ([`Problem::severity`]), so the verdict is computed from the kind of
//! problem, never from matching message text.

use serde::{Deserialize, Serialize};

/// Overall verdict of a check, and the severity of one problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All good.
    Ok,
    /// Something to look at; listeners still hear the station.
    Warn,
    /// Listeners hear nothing, or the station is not advancing.
    Fail,
}

/// Where a problem was found, which decides how much it weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The station as a whole (Kubo, the streamer, the configured gateways).
    Station,
    /// One gateway's view of the stream.
    Gateway {
        /// A public gateway: its failures only warn.
        public: bool,
        /// Whether some local gateway serves the stream well.
        any_local_ok: bool,
    },
    /// One segment fetched at the live point.
    Segment,
}

/// One thing wrong. Serialized as `{"kind": "...", ...fields}`; [`std::fmt::Display`]
/// gives the sentence the operator reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// Kubo did not answer `id` and `version`.
    KuboDown {
        /// The client's error.
        error: String,
    },
    /// The streamer's heartbeat is stale, or it never streamed.
    StreamerDown {
        /// Seconds since its last tick, when it ever ticked.
        last_tick_seconds_ago: Option<f64>,
    },
    /// There is no IPNS name to check yet.
    NotPublished,
    /// No local gateway is configured.
    NoLocalGateway,
    /// Local gateways are configured but none serves the stream.
    NoLocalGatewayServes,
    /// The gateway could not be reached, or answered an error for the playlist.
    Unreachable {
        /// What happened (`HTTP 504 for /ipns/...`, `timed out`, ...).
        detail: String,
    },
    /// The playlist is not a valid live media playlist (RFC 8216).
    Invalid {
        /// The rule it breaks, with its section.
        detail: String,
    },
    /// A listener starting now is further behind the wall clock than allowed.
    Lagging {
        /// How far behind, seconds.
        lag_seconds: f64,
        /// The allowed lag (`max_lag_seconds`), seconds.
        allowed_seconds: f64,
    },
    /// As [`Problem::Lagging`], and the playlist no longer advances (or is more than
    /// twice the allowed lag behind): listeners get no new audio.
    Stale {
        /// How far behind, seconds.
        lag_seconds: f64,
        /// The allowed lag, seconds.
        allowed_seconds: f64,
    },
    /// Publishes take longer than the lookahead covers: the newest playlist a gateway
    /// has is up to two publish times, a segment and the record's TTL old, and the player
    /// wants three target durations ahead of its playhead; the playlist reaches less far
    /// ahead of the live point, so listeners fall behind live or stall.
    SlowPublishes {
        /// Mean duration of the recent publishes, seconds.
        publish_seconds: f64,
        /// What listeners need ahead of the live point, seconds.
        needed_seconds: f64,
        /// What the playlist reaches ahead of the live point (`lookahead_segments`
        /// segments), seconds.
        lookahead_seconds: f64,
    },
    /// The library version was made more than an hour ago and no pinning service of
    /// `remote_pinning` holds it (crate::pinning): it lives on this machine only.
    LibraryNotPinned {
        /// Hours since the version was made.
        hours: f64,
        /// Services configured.
        services: usize,
    },
    /// The streamer keeps a programme on air that is not the processed folder's (that is
    /// unplayable), or a programme block plays the default (nothing playable in its
    /// folders): listeners hear the station, the operator should fix the library
    /// (`alarm` of `stream_state.json`).
    Programme {
        /// The streamer's alarm.
        detail: String,
    },
    /// A segment could not be fetched.
    FetchFailed {
        /// What happened.
        detail: String,
    },
    /// A segment holds silence longer than `silence_min_seconds`.
    Silence {
        /// Longest run under the threshold, seconds.
        seconds: f64,
        /// The threshold (RMS), dBFS.
        threshold_dbfs: f64,
    },
    /// A segment's peak reaches the clipping threshold.
    Clipping {
        /// The threshold (peak), dBFS.
        threshold_dbfs: f64,
    },
    /// Packets of a segment did not decode.
    DecodeErrors {
        /// How many, or why nothing decoded.
        detail: String,
    },
    /// A segment decodes to another length than its `#EXTINF` says.
    Duration {
        /// Seconds decoded.
        decoded_seconds: f64,
        /// Seconds `#EXTINF` says.
        extinf_seconds: f64,
    },
    /// A segment holds more audio than its `#EXTINF` and the margin allow: decoding
    /// stopped at the limit (a few kilobytes that decode to hours are never decoded
    /// whole).
    DecodeLimit {
        /// Seconds `#EXTINF` says.
        extinf_seconds: f64,
        /// Seconds decoded before stopping.
        limit_seconds: f64,
    },
    /// A segment URI of the playlist resolves to another origin than the gateway's (or
    /// the configured `segment_base_url`'s): it is not fetched.
    OffOrigin {
        /// The resolved URL.
        url: String,
    },
    /// The live point's `#EXT-X-PROGRAM-DATE-TIME` lies in the future: the streamer's
    /// clock or this one is wrong (or the playlist is not the station's).
    FutureDated {
        /// How far ahead of this clock, seconds.
        ahead_seconds: f64,
    },
    /// `health.json` could not be read: it was kept aside and the level points that
    /// could be read from it were kept.
    CorruptHealthFile {
        /// Where the unreadable file now is.
        kept_as: String,
        /// Why it could not be read.
        reason: String,
    },
}

impl Problem {
    /// What this problem weighs where it was found: `Fail` when listeners hear nothing
    /// (Kubo down, no streamer, nothing published, no local gateway serving the
    /// stream), `Warn` for the rest (a public gateway down, silence, clipping, lag).
    pub fn severity(&self, scope: Scope) -> Status {
        match (self, scope) {
            (
                Problem::KuboDown { .. }
                | Problem::StreamerDown { .. }
                | Problem::NotPublished
                | Problem::NoLocalGatewayServes,
                _,
            ) => Status::Fail,
            (
                Problem::Unreachable { .. } | Problem::Invalid { .. } | Problem::Stale { .. },
                Scope::Gateway {
                    public: false,
                    any_local_ok: false,
                },
            ) => Status::Fail,
            _ => Status::Warn,
        }
    }

    /// Whether a gateway with this problem fails to serve the stream (it then does not
    /// count as a working gateway).
    pub fn breaks_gateway(&self) -> bool {
        matches!(
            self,
            Problem::Unreachable { .. } | Problem::Invalid { .. } | Problem::Stale { .. }
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::KuboDown { error } => write!(f, "Kubo: {error}"),
            Problem::StreamerDown {
                last_tick_seconds_ago: Some(a),
            } => write!(
                f,
                "the streamer is not running (last tick {a:.0} s ago): start `station stream`"
            ),
            Problem::StreamerDown {
                last_tick_seconds_ago: None,
            } => f.write_str("the station has never streamed: start `station stream`"),
            Problem::NotPublished => f.write_str("no IPNS name yet: the station has not published"),
            Problem::NoLocalGateway => f.write_str("no local gateway configured"),
            Problem::NoLocalGatewayServes => f.write_str("no local gateway serves the stream"),
            Problem::Unreachable { detail } => write!(f, "unreachable: {detail}"),
            Problem::Invalid { detail } => write!(f, "invalid: {detail}"),
            Problem::Lagging {
                lag_seconds,
                allowed_seconds,
            } => write!(
                f,
                "lagging: a listener starting now is {lag_seconds:.0} s behind the wall clock (allowed {allowed_seconds:.0} s)"
            ),
            Problem::Stale {
                lag_seconds,
                allowed_seconds,
            } => write!(
                f,
                "stale: a listener starting now is {lag_seconds:.0} s behind the wall clock (allowed {allowed_seconds:.0} s)"
            ),
            Problem::SlowPublishes {
                publish_seconds,
                needed_seconds,
                lookahead_seconds,
            } => write!(
                f,
                "publishes take {publish_seconds:.0} s on average: listeners need {needed_seconds:.0} s ahead of the live point (two publishes, a segment, the record TTL, three target durations of player buffer), the playlist reaches {lookahead_seconds:.0} s (raise lookahead_segments)"
            ),
            Problem::LibraryNotPinned { hours, services } => write!(
                f,
                "the library version made {hours:.1} h ago is pinned on none of the {services} pinning service(s): it lives on this machine only (see `station status`)"
            ),
            Problem::Programme { detail } => write!(f, "programme: {detail}"),
            Problem::FetchFailed { detail } => write!(f, "fetch failed: {detail}"),
            Problem::Silence {
                seconds,
                threshold_dbfs,
            } => write!(f, "silence: {seconds:.1} s under {threshold_dbfs:.0} dBFS"),
            Problem::Clipping { threshold_dbfs } => {
                write!(f, "clipping: peak at or over {threshold_dbfs:.1} dBFS")
            }
            Problem::DecodeErrors { detail } => write!(f, "decode errors: {detail}"),
            Problem::Duration {
                decoded_seconds,
                extinf_seconds,
            } => write!(
                f,
                "duration: decoded {decoded_seconds:.3} s, #EXTINF says {extinf_seconds:.3} s"
            ),
            Problem::DecodeLimit {
                extinf_seconds,
                limit_seconds,
            } => write!(
                f,
                "decode limit: the segment holds more than {limit_seconds:.1} s of audio, #EXTINF says {extinf_seconds:.3} s (decoding stopped there)"
            ),
            Problem::OffOrigin { url } => write!(
                f,
                "segment URI points at another origin ({url}): not fetched"
            ),
            Problem::FutureDated { ahead_seconds } => write!(
                f,
                "future: the live point's program date time is {ahead_seconds:.0} s ahead of this clock (is the streamer's clock right?)"
            ),
            Problem::CorruptHealthFile { kept_as, reason } => write!(
                f,
                "health.json could not be read ({reason}): kept as {kept_as}; the level points that could be read were kept"
            ),
        }
    }
}

/// A problem as the report lists it: where, how severe, what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    /// How much it weighs.
    pub severity: Status,
    /// The sentence the operator reads (gateway and segment included).
    pub message: String,
    /// The gateway it was seen on, if any.
    pub gateway: Option<String>,
    /// The media sequence of the segment it was seen in, if any.
    pub segment: Option<u64>,
    /// What is wrong.
    pub problem: Problem,
}

impl Alarm {
    /// The alarm for `problem` found in `scope` (on `gateway`, in `segment`).
    pub fn new(
        problem: Problem,
        scope: Scope,
        gateway: Option<&str>,
        segment: Option<u64>,
    ) -> Alarm {
        let message = match (gateway, segment) {
            (Some(g), Some(s)) => format!("{g}: segment {s}: {problem}"),
            (Some(g), None) => format!("{g}: {problem}"),
            _ => problem.to_string(),
        };
        Alarm {
            severity: problem.severity(scope),
            message,
            gateway: gateway.map(str::to_string),
            segment,
            problem,
        }
    }
}

impl std::fmt::Display for Alarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Reads a list of problems, dropping entries this version does not know (a
/// `health.json` written by an older or newer version still loads, with its level
/// history).
pub fn lenient<'de, D>(d: D) -> std::result::Result<Vec<Problem>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = Vec::<serde_json::Value>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}

/// [`lenient`] for the report's alarms.
pub fn lenient_alarms<'de, D>(d: D) -> std::result::Result<Vec<Alarm>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = Vec::<serde_json::Value>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_comes_from_the_kind_of_problem_and_where_it_is() {
        let local_down = Scope::Gateway {
            public: false,
            any_local_ok: false,
        };
        let local_other_ok = Scope::Gateway {
            public: false,
            any_local_ok: true,
        };
        let public = Scope::Gateway {
            public: true,
            any_local_ok: false,
        };
        let unreachable = Problem::Unreachable {
            detail: "timed out".into(),
        };
        assert_eq!(unreachable.severity(local_down), Status::Fail);
        assert_eq!(unreachable.severity(local_other_ok), Status::Warn);
        assert_eq!(unreachable.severity(public), Status::Warn);
        let lag = Problem::Lagging {
            lag_seconds: 130.0,
            allowed_seconds: 120.0,
        };
        assert_eq!(lag.severity(local_down), Status::Warn);
        assert!(!lag.breaks_gateway());
        assert_eq!(
            Problem::KuboDown { error: "x".into() }.severity(Scope::Station),
            Status::Fail
        );
        assert_eq!(
            Problem::Silence {
                seconds: 3.0,
                threshold_dbfs: -50.0
            }
            .severity(Scope::Segment),
            Status::Warn
        );
    }

    #[test]
    fn problems_round_trip_and_unknown_ones_are_dropped() {
        let p = Problem::Stale {
            lag_seconds: 300.0,
            allowed_seconds: 60.0,
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["kind"], "stale");
        assert!(p.to_string().starts_with("stale: "));
        #[derive(Deserialize)]
        struct L {
            #[serde(deserialize_with = "lenient")]
            p: Vec<Problem>,
        }
        let l: L = serde_json::from_value(serde_json::json!({
            "p": [v, "an old plain-text problem", {"kind": "from_the_future"}]
        }))
        .unwrap();
        assert_eq!(l.p, vec![p]);
    }
}
