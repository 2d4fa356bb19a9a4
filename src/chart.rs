//! Drawing a chart as SVG with plotters: the white canvas, and the one error type of the report's
//! and the status page's charts.

use plotters::prelude::*;

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart \"{chart}\": {detail}")]
pub struct ChartError {
    chart: &'static str,
    detail: String,
}

/// The drawing area of a chart.
pub type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
/// What drawing on an [`Area`] gives.
pub type DrawResult = Result<(), DrawingAreaErrorKind<<SVGBackend<'static> as DrawingBackend>::ErrorType>>;

/// The font family of every chart (the browser picks the face).
pub const FONT: &str = "sans-serif";
/// The light grid lines.
pub const GRID: RGBColor = RGBColor(238, 238, 238);
/// What failed, in every chart.
pub const FAILED: RGBColor = RGBColor(198, 40, 40);

/// Draws the series' legend in the upper left corner.
pub fn legend<'a, X: Ranged, Y: Ranged>(chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>) -> DrawResult {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .draw()
}

/// The SVG of `chart`, drawn by `body` on a white area of `size`.
pub fn svg(
    chart: &'static str,
    size: (u32, u32),
    body: impl FnOnce(&Area) -> DrawResult,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let failed = |e: &dyn std::fmt::Display| ChartError { chart, detail: e.to_string() };
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        body(&root).map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(svg)
}
