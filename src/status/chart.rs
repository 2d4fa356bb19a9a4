//! The status page's chart, drawn by plotters as SVG: jobs running per target over the last 24
//! hours, with the failures marked.

use super::activity::{Activity, SLOT_MS, SPAN_MS};
use crate::chart::{legend, svg, ChartError, FAILED, FONT, GRID};
use plotters::prelude::*;

const COLOURS: [RGBColor; 6] = [
    RGBColor(21, 101, 192),
    RGBColor(0, 137, 123),
    RGBColor(106, 27, 154),
    RGBColor(109, 76, 65),
    RGBColor(84, 110, 122),
    RGBColor(158, 157, 36),
];

/// The chart of every target's activity up to `now`.
pub fn running(targets: &[(&str, &Activity)], now: crate::clock::LocalMs) -> Result<String, ChartError> {
    let now_ms = now.0;
    let from = now_ms - SPAN_MS;
    let peak = targets.iter().flat_map(|(_, a)| a.slots().map(|s| s.running)).max().unwrap_or(0);
    let top = (peak as f64 * 1.2).ceil().max(2.0) as i64;
    svg("running jobs", (900, 300), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Jobs running, last 24 hours (red: failures)", (FONT, 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(from..now_ms, 0..top)?;
        chart
            .configure_mesh()
            .x_labels(9)
            .x_label_formatter(&|ms| {
                crate::arcgis::model::rfc3339(*ms).map(|t| t[11..16].to_string()).unwrap_or_default()
            })
            .y_labels(top.min(8) as usize + 1)
            .y_desc("running")
            .light_line_style(GRID)
            .label_style((FONT, 11))
            .draw()?;
        for (index, (name, activity)) in targets.iter().enumerate() {
            let colour = COLOURS[index % COLOURS.len()];
            // Each slot at its middle (the current one at now), as a line and a dot.
            let at = |start: i64| (start + SLOT_MS / 2).min(now_ms);
            let points: Vec<(i64, i64)> = activity.slots().map(|s| (at(s.start_ms.0), s.running as i64)).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(name.to_string())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], colour.stroke_width(2)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 2, colour.filled())))?;
            let failures = activity.slots().filter(|s| s.failures > 0);
            let marks = failures
                .map(|s| Circle::new((at(s.start_ms.0), s.running as i64), 3 + s.failures.min(5), FAILED.filled()));
            chart.draw_series(marks)?;
        }
        legend(&mut chart)
    })
}
