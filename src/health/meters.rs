//! Level meters and the level history, drawn with plotters to SVG strings (the console
//! embeds them; `station health --svg FILE` writes one).
//!
//! Scale: dBFS from [`METER_FLOOR_DBFS`] to 0. Meters show per channel the RMS as a bar
//! and the peak as a marker, with the clip threshold marked; the history shows peak and
//! RMS over time with the silence threshold drawn.

use crate::health::levels::ChannelLevels;
use chrono::{DateTime, Utc};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// Bottom of the meter scale, dBFS.
pub const METER_FLOOR_DBFS: f64 = -60.0;

/// One point of the level history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelPoint {
    /// When the measured segment aired (its program date time), UTC.
    pub at: DateTime<Utc>,
    /// Highest channel peak, dBFS.
    pub peak_dbfs: f64,
    /// Highest channel RMS, dBFS.
    pub rms_dbfs: f64,
    /// Loudness, LUFS (when not gated out).
    pub loudness_lufs: Option<f64>,
}

fn clamp(db: f64) -> f64 {
    db.clamp(METER_FLOOR_DBFS, 0.0)
}

/// Draws meters for `channels` and the `history` into one SVG of `width` x `height`
/// pixels: meters on top, history below. Thresholds in dBFS.
///
/// Text in the SVG names each channel's values (`L peak -6.0 dBFS RMS -9.0 dBFS`) and the
/// thresholds, so the picture can be read and checked.
pub fn render_svg(
    channels: &[ChannelLevels],
    history: &[LevelPoint],
    silence_threshold_dbfs: f64,
    clip_threshold_dbfs: f64,
    width: u32,
    height: u32,
) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let (top, bottom) = root.split_vertically(height * 2 / 5);
        let _ = draw_meters(&top, channels, clip_threshold_dbfs);
        let _ = draw_history(&bottom, history, silence_threshold_dbfs);
        let _ = root.present();
    }
    out
}

fn channel_name(i: usize, n: usize) -> String {
    match (n, i) {
        (2, 0) => "L".into(),
        (2, 1) => "R".into(),
        (1, _) => "M".into(),
        _ => format!("ch{}", i + 1),
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw_meters<'a>(
    area: &Area<'a>,
    channels: &[ChannelLevels],
    clip: f64,
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let n = channels.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption("Levels (dBFS)", ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(22)
        .y_label_area_size(8)
        .build_cartesian_2d(METER_FLOOR_DBFS..0.0, 0.0..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(7)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (i, c) in channels.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let colour = if c.peak_dbfs >= clip { RED } else { GREEN };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(METER_FLOOR_DBFS, y + 0.2), (clamp(c.rms_dbfs), y + 0.8)],
            colour.mix(0.7).filled(),
        )))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [
                (clamp(c.peak_dbfs) - 0.4, y + 0.1),
                (clamp(c.peak_dbfs), y + 0.9),
            ],
            BLACK.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!(
                "{} peak {:.1} dBFS RMS {:.1} dBFS",
                channel_name(i, n),
                c.peak_dbfs,
                c.rms_dbfs
            ),
            (METER_FLOOR_DBFS + 1.0, y + 0.5),
            ("sans-serif", 13).into_font(),
        )))?;
    }
    chart.draw_series(LineSeries::new(
        [(clip, 0.0), (clip, n as f64)],
        RED.stroke_width(1),
    ))?;
    Ok(())
}

fn draw_history<'a>(
    area: &Area<'a>,
    history: &[LevelPoint],
    silence: f64,
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let (t0, t1) = match (history.first(), history.last()) {
        (Some(a), Some(b)) if b.at > a.at => (a.at, b.at),
        // Checked: the points come from `health.json`, a state file.
        (Some(a), _) => (
            a.at.checked_sub_signed(chrono::TimeDelta::minutes(1))
                .unwrap_or(a.at),
            a.at,
        ),
        _ => {
            let now = Utc::now();
            (now - chrono::Duration::hours(1), now)
        }
    };
    let span = (t1 - t0).num_milliseconds().max(1) as f64 / 1000.0;
    let x = |t: DateTime<Utc>| (t - t0).num_milliseconds() as f64 / 1000.0;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Level history, silence threshold {silence:.0} dBFS"),
            ("sans-serif", 16),
        )
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..span, METER_FLOOR_DBFS..0.0)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .x_label_formatter(&|s| {
            chrono::TimeDelta::try_milliseconds((s * 1000.0) as i64)
                .and_then(|d| t0.checked_add_signed(d))
                .map_or_else(String::new, |t| t.format("%H:%M:%S").to_string())
        })
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart.draw_series(LineSeries::new(
        [(0.0, silence), (span, silence)],
        RED.stroke_width(1),
    ))?;
    chart.draw_series(LineSeries::new(
        history.iter().map(|p| (x(p.at), clamp(p.peak_dbfs))),
        BLUE.stroke_width(2),
    ))?;
    chart.draw_series(LineSeries::new(
        history.iter().map(|p| (x(p.at), clamp(p.rms_dbfs))),
        GREEN.stroke_width(2),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_is_well_formed_and_shows_the_values() {
        let ch = vec![
            ChannelLevels {
                peak_dbfs: -6.0,
                rms_dbfs: -9.0,
            },
            ChannelLevels {
                peak_dbfs: -0.05,
                rms_dbfs: -3.2,
            },
        ];
        let t = Utc::now();
        let hist: Vec<LevelPoint> = (0..30)
            .map(|i| LevelPoint {
                at: t + chrono::Duration::seconds(6 * i),
                peak_dbfs: -6.0,
                rms_dbfs: if i == 10 { -80.0 } else { -9.0 },
                loudness_lufs: Some(-14.0),
            })
            .collect();
        let svg = render_svg(&ch, &hist, -50.0, -0.1, 800, 500);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<String> = doc
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text().map(str::to_string))
            .collect();
        let all = texts.join("|");
        assert!(all.contains("L peak -6.0 dBFS RMS -9.0 dBFS"), "{all}");
        assert!(all.contains("R peak -0.1 dBFS RMS -3.2 dBFS"), "{all}");
        assert!(all.contains("silence threshold -50 dBFS"), "{all}");
        // The history lines have a point per entry.
        let polylines: Vec<_> = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "polyline")
            .collect();
        assert!(polylines.iter().any(|p| p
            .attribute("points")
            .is_some_and(|pts| pts.split_whitespace().count() == 30)));
        // Empty input still draws.
        roxmltree::Document::parse(&render_svg(&[], &[], -50.0, -0.1, 400, 300)).unwrap();
    }
}
