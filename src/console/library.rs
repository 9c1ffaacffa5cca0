//! The Library screen's operations: the tables, adding what the operator dropped or
//! picked, removing a row, and audition (behind the `audition` feature).

use super::Console;
use crate::error::{Error, Result};
use crate::library::catalog::{self, ImportReport, LibraryView, Refused, Removed};
use crate::library::ItemKind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What to audition of a library row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditionWhat {
    /// The source file as dropped in.
    Source,
    /// The prechunked segments, through the item's `index.m3u8`: what listeners hear.
    Segments,
}

impl Console {
    /// The library tables ([`catalog::overview`]).
    ///
    /// Errors: the state folder cannot be read.
    pub fn library(&self) -> Result<LibraryView> {
        catalog::overview(&*self.station()?)
    }

    /// Copies the audio among `paths` into the station as `kind` ([`catalog::import`])
    /// and starts setup when anything was added. Paths neither in the station nor
    /// dropped/picked are refused, each with the reason.
    ///
    /// Errors: the music or jingles folder cannot be created; ffprobe missing.
    pub async fn add(&self, kind: ItemKind, paths: Vec<PathBuf>) -> Result<ImportReport> {
        let mut refused = Vec::new();
        let mut ok = Vec::new();
        for p in paths {
            if self.is_allowed(&p) {
                ok.push(p);
            } else if !p.exists() && p.to_string_lossy().contains('\u{fffd}') {
                // The page only has names as UTF-8 text: one that was not arrives changed.
                refused.push(Refused {
                    path: p,
                    reason: "no such file: its name is not valid UTF-8 (shown with \u{fffd}); rename it, then add it again".into(),
                });
            } else {
                refused.push(Refused {
                    path: p,
                    reason: "not dropped or picked: the console only reads files you drop on it or pick with Add files".into(),
                });
            }
        }
        let station = self.station()?;
        let mut report = tokio::task::spawn_blocking(move || catalog::import(&station, kind, &ok))
            .await
            .map_err(|e| Error::Station {
                dir: self.dir().to_path_buf(),
                message: format!("the import stopped: {e}"),
            })??;
        report.refused.splice(0..0, refused);
        if !report.added.is_empty() {
            self.start_setup();
        }
        Ok(report)
    }

    /// Takes a source out of the library ([`catalog::remove`]: to the station's trash).
    /// Only a row of the library tables can be removed.
    ///
    /// Errors: [`Error::BadSource`] when `source` is not a row of the library; as
    /// [`catalog::remove`].
    pub fn remove(&self, source: &Path) -> Result<Removed> {
        let station = self.station()?;
        let view = catalog::overview(&station)?;
        let is_row = view
            .tracks
            .iter()
            .chain(&view.jingles)
            .any(|r| r.source == source);
        if !is_row {
            return Err(Error::BadSource {
                file: source.to_path_buf(),
                reason: "not a source in the library tables".into(),
            });
        }
        catalog::remove(&station, source)
    }
}

#[cfg(feature = "audition")]
mod audition_ops {
    use super::*;
    use crate::console::audition::{Audition, AuditionInput, AuditionSource, AuditionStatus};
    use crate::setup::manifest::ITEMS_DIR;

    /// Audition availability and state.
    #[derive(Debug, Clone, Serialize)]
    pub struct AuditionView {
        /// Whether an audio device is open.
        pub available: bool,
        /// Why not, when unavailable.
        pub reason: Option<String>,
        /// What plays.
        pub status: AuditionStatus,
    }

    impl Console {
        fn player(&self) -> &std::result::Result<Audition, String> {
            self.audition.get_or_init(Audition::open)
        }

        /// Audition state; opens the audio device on first use.
        pub fn audition_view(&self) -> AuditionView {
            match self.player() {
                Ok(a) => AuditionView {
                    available: true,
                    reason: None,
                    status: a.status(),
                },
                Err(e) => AuditionView {
                    available: false,
                    reason: Some(e.clone()),
                    status: AuditionStatus::default(),
                },
            }
        }

        /// What auditioning `what` of the library row of `source` plays.
        ///
        /// Errors: [`Error::BadSource`] when `source` is not in the library, or not
        /// prechunked yet for [`AuditionWhat::Segments`].
        pub fn audition_input(&self, source: &Path, what: AuditionWhat) -> Result<AuditionInput> {
            let station = self.station()?;
            let view = catalog::overview(&station)?;
            let row = view
                .tracks
                .iter()
                .chain(view.jingles.iter())
                .find(|r| r.source == source)
                .ok_or_else(|| Error::BadSource {
                    file: source.to_path_buf(),
                    reason: "not in the library".into(),
                })?;
            let input = match what {
                AuditionWhat::Source => AuditionInput {
                    source: AuditionSource::File(row.source.clone()),
                    label: row.title.clone(),
                    duration: row.duration.unwrap_or(0.0),
                },
                AuditionWhat::Segments => {
                    let id = row.id.clone().ok_or_else(|| Error::BadSource {
                        file: source.to_path_buf(),
                        reason: format!("{} is not prechunked yet", row.title),
                    })?;
                    AuditionInput {
                        source: AuditionSource::File(
                            station
                                .processed_dir()
                                .join(ITEMS_DIR)
                                .join(&id)
                                .join("index.m3u8"),
                        ),
                        label: format!("{} (prechunked)", row.title),
                        duration: row.duration.unwrap_or(0.0),
                    }
                }
            };
            if input.duration > 0.0 {
                return Ok(input);
            }
            let d = match &input.source {
                AuditionSource::File(path) => {
                    crate::library::probe(path).map_or(0.0, |i| i.duration)
                }
                AuditionSource::Live { .. } => 0.0,
            };
            Ok(AuditionInput {
                duration: d,
                ..input
            })
        }

        /// Plays `what` of the library row of `source` through the audio device.
        ///
        /// Errors: [`Error::Audio`] without an audio device; as
        /// [`Console::audition_input`].
        pub fn audition_play(&self, source: &Path, what: AuditionWhat) -> Result<AuditionView> {
            let player = self
                .player()
                .as_ref()
                .map_err(|e| Error::Audio { reason: e.clone() })?;
            player.play(self.audition_input(source, what)?);
            Ok(self.audition_view())
        }

        /// Plays the running preview (`station stream --preview`) through the audio
        /// device, from the live point of the window it serves (so it is heard at its air
        /// time, as the listener page plays a published stream).
        ///
        /// Errors: [`Error::Audio`] without an audio device; [`Error::Process`] when no
        /// preview runs.
        pub fn preview_listen(&self) -> Result<AuditionView> {
            let player = self
                .player()
                .as_ref()
                .map_err(|e| Error::Audio { reason: e.clone() })?;
            let state = self.state_dir();
            let url = crate::console::preview::running_preview_url(&state).ok_or_else(|| {
                Error::Process {
                    what: "the preview".into(),
                    reason: "no preview runs: press Preview locally first".into(),
                }
            })?;
            // Counted from the end: the lookahead after the live point stays the same
            // length as the window slides, so a playlist fetched a tick later agrees.
            let start_index = crate::air::live::live_window(&state, chrono::Utc::now())
                .ok()
                .flatten()
                .and_then(|w| {
                    let i = w.segments.iter().position(|s| s.live)?;
                    Some(i as i64 - w.segments.len() as i64)
                })
                .unwrap_or(-3);
            player.play(AuditionInput {
                source: AuditionSource::Live { url, start_index },
                label: "the preview (live, only on this computer)".into(),
                duration: 0.0,
            });
            Ok(self.audition_view())
        }

        /// Stops the audition if it plays the preview (which is about to stop); opens no
        /// device.
        pub fn preview_listen_stop(&self) {
            if let Some(Ok(a)) = self.audition.get() {
                if a.status().live {
                    a.stop();
                }
            }
        }

        /// Stops the audition.
        pub fn audition_stop(&self) -> AuditionView {
            if let Ok(a) = self.player() {
                a.stop();
            }
            self.audition_view()
        }
    }
}

#[cfg(feature = "audition")]
pub use audition_ops::AuditionView;
