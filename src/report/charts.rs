//! The report's charts, drawn by plotters as SVG: compute hours by group as bars, and the runs of
//! each day stacked by outcome.

use super::{Day, Ending, Group};
pub use crate::chart::ChartError;
use crate::chart::{legend, svg, FAILED, FONT, GRID};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// At most this many groups get a bar (the most compute first); the tables list them all.
pub const BARS: usize = 15;

const WIDTH: u32 = 860;

/// The colour of an outcome in the charts (and the page's legend).
pub fn colour(outcome: Ending) -> RGBColor {
    match outcome {
        Ending::Completed => RGBColor(46, 125, 50),
        Ending::Failed => FAILED,
        Ending::Cancelled => RGBColor(239, 108, 0),
        Ending::Unknown => RGBColor(120, 120, 120),
    }
}

/// Horizontal bars: each group's compute hours.
pub fn compute_hours(groups: &[Group], by: &str) -> Result<String, ChartError> {
    let shown = &groups[..groups.len().min(BARS)];
    // The first group (the most compute) at the top: segment 0 is the bottom one.
    let names: Vec<String> = shown.iter().rev().map(|g| shorten(&g.name, 28)).collect();
    let hours: Vec<f64> = shown.iter().rev().map(|g| g.compute_minutes / 60.0).collect();
    let max = hours.iter().copied().fold(0.0, f64::max).max(0.1) * 1.1;
    let height = 90 + 26 * shown.len().max(1) as u32;
    svg("compute hours", (WIDTH, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(format!("Compute hours by {by}"), (FONT, 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(200)
            .build_cartesian_2d(0.0..max, (0..shown.len().max(1)).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(shown.len().max(1))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("compute hours (sum of runtimes)")
            .light_line_style(GRID)
            .label_style((FONT, 13))
            .draw()?;
        let bars = hours.iter().enumerate().map(|(i, h)| {
            let (top, bottom) = (SegmentValue::Exact(i), SegmentValue::Exact(i + 1));
            let mut bar = Rectangle::new([(0.0, top), (*h, bottom)], RGBColor(21, 101, 192).filled());
            bar.set_margin(4, 4, 0, 0);
            bar
        });
        chart.draw_series(bars)?;
        Ok(())
    })
}

/// Columns: the runs of each day, stacked by outcome, with a legend.
pub fn runs_per_day(days: &[Day]) -> Result<String, ChartError> {
    let total = |d: &Day| d.runs.values().sum::<u64>();
    let max = (days.iter().map(total).max().unwrap_or(0).max(1) as f64 * 1.15).ceil() as u64;
    svg("runs per day", (WIDTH, 340), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Runs per day by outcome", (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((0..days.len().max(1)).into_segmented(), 0..max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(days.len().clamp(1, 10))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => days.get(*i).map(|d| d.date[5..].to_string()).unwrap_or_default(),
                _ => String::new(),
            })
            .y_desc("runs")
            .y_labels(max.min(10) as usize + 1)
            .light_line_style(GRID)
            .label_style((FONT, 12))
            .draw()?;
        let mut below = vec![0; days.len()];
        for outcome in Ending::ALL {
            let colour = colour(outcome);
            let segments: Vec<Rectangle<_>> = days
                .iter()
                .enumerate()
                .map(|(i, day)| {
                    let count = day.runs.get(outcome.as_str()).copied().unwrap_or(0);
                    let (left, right) = (SegmentValue::Exact(i), SegmentValue::Exact(i + 1));
                    let mut segment = Rectangle::new([(left, below[i]), (right, below[i] + count)], colour.filled());
                    segment.set_margin(0, 0, 2, 2);
                    below[i] += count;
                    segment
                })
                .collect();
            chart
                .draw_series(segments)?
                .label(outcome.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
        }
        legend(&mut chart)
    })
}

/// `text` cut to `max` characters, with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    match text.chars().count() > max {
        true => text.chars().take(max - 1).chain(['…']).collect(),
        false => text.to_string(),
    }
}
