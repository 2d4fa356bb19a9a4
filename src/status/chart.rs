//! The status page's chart, drawn by plotters as SVG: jobs running per target over the span the
//! activity covers (up to 24 hours), ticks on whole hours (whole minutes under two hours), the
//! failures marked and named in the legend.

use crate::activity::{Activity, SLOT_MS, SPAN_MS};
use crate::chart::{legend, svg, ChartError, FAILED, FONT, GRID};
use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;

const COLOURS: [RGBColor; 6] = [
    RGBColor(21, 101, 192),
    RGBColor(0, 137, 123),
    RGBColor(106, 27, 154),
    RGBColor(109, 76, 65),
    RGBColor(84, 110, 122),
    RGBColor(158, 157, 36),
];

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// Under this span the ticks fall on whole minutes, from it on whole hours.
const HOURLY_FROM: i64 = 2 * HOUR;
/// At most this many ticks.
const MOST_TICKS: i64 = 9;

/// The span the chart covers: from the oldest slot kept (at most 24 hours back, at least one
/// slot back) to `now`.
pub fn span(targets: &[(&str, &Activity)], now: i64) -> (i64, i64) {
    let oldest = targets.iter().filter_map(|(_, a)| a.slots().next()).map(|s| s.start_ms.0).min();
    let from = oldest.unwrap_or(now).clamp(now - SPAN_MS, now - SLOT_MS);
    (from, now)
}

/// The ticks of `from..=to`: every whole hour or several (whole minutes under two hours), so
/// that at most [`MOST_TICKS`] fall within it.
pub fn ticks(from: i64, to: i64) -> Vec<i64> {
    let (unit, steps): (i64, &[i64]) = match to - from >= HOURLY_FROM {
        true => (HOUR, &[1, 2, 3, 4, 6, 12]),
        false => (MINUTE, &[1, 2, 5, 10, 15, 20, 30]),
    };
    let fits = |step: &&i64| (to - from) / (*step * unit) < MOST_TICKS;
    let step = steps.iter().find(fits).copied().unwrap_or(steps[steps.len() - 1]) * unit;
    let first = from + (step - from.rem_euclid(step)) % step;
    (0..).map(|n| first + n * step).take_while(|t| *t <= to).collect()
}

/// The chart of every target's activity up to `now`.
pub fn running(targets: &[(&str, &Activity)], now: crate::clock::LocalMs) -> Result<String, ChartError> {
    let (from, to) = span(targets, now.0);
    let peak = targets.iter().flat_map(|(_, a)| a.slots().map(|s| s.running)).max().unwrap_or(0);
    let top = (peak as f64 * 1.2).ceil().max(2.0) as i64;
    svg("running jobs", (900, 300), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Jobs running", (FONT, 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d((from..to).with_key_points(ticks(from, to)), 0..top)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|ms| {
                crate::arcgis::model::rfc3339(*ms).map(|t| t[11..16].to_string()).unwrap_or_default()
            })
            .y_labels(top.min(8) as usize + 1)
            .y_desc("running")
            .light_line_style(GRID)
            .label_style((FONT, 11))
            .draw()?;
        // Each slot at its middle (the current one at now).
        let at = |start: i64| (start + SLOT_MS / 2).clamp(from, to);
        for (index, (name, activity)) in targets.iter().enumerate() {
            let colour = COLOURS[index % COLOURS.len()];
            let points: Vec<(i64, i64)> = activity.slots().map(|s| (at(s.start_ms.0), s.running as i64)).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(name.to_string())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], colour.stroke_width(2)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 2, colour.filled())))?;
        }
        let failed = targets.iter().flat_map(|(_, a)| a.slots().filter(|s| s.failures > 0));
        // Rings around the slot's dot, so that both show.
        let ring = |s: &crate::activity::Slot| {
            Circle::new((at(s.start_ms.0), s.running as i64), 4 + s.failures.min(5), FAILED.stroke_width(2))
        };
        chart
            .draw_series(failed.map(ring))?
            .label("jobs failed (larger: more)")
            .legend(|(x, y)| Circle::new((x + 7, y), 4, FAILED.stroke_width(2)));
        legend(&mut chart)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::Slot;
    use crate::clock::LocalMs;

    #[test]
    fn ticks_fall_on_whole_hours_or_under_two_hours_on_whole_minutes() {
        let from = 10 * HOUR + 17 * MINUTE + 3_000;
        let hours = ticks(from, from + 23 * HOUR);
        assert!(hours.iter().all(|t| t % HOUR == 0) && hours.len() <= MOST_TICKS as usize, "{hours:?}");
        assert_eq!(hours[0], 12 * HOUR, "every 3 hours over 23 hours: the first whole one within");
        assert_eq!(ticks(0, 2 * HOUR), [0, HOUR, 2 * HOUR], "two hours: hourly ticks, both ends included");
        let minutes = ticks(from, from + 40 * MINUTE);
        assert!(minutes.iter().all(|t| t % (5 * MINUTE) == 0), "{minutes:?}");
        assert_eq!((minutes[0], minutes.len()), (10 * HOUR + 20 * MINUTE, 8), "{minutes:?}");
        assert_eq!(ticks(0, 119 * MINUTE)[1], 15 * MINUTE, "every 15 minutes just under two hours");
    }

    #[test]
    fn the_axis_covers_the_recorded_span_up_to_24_hours() {
        let slot = |start: i64| Slot { start_ms: LocalMs(start), running: 1, failures: 0 };
        let now = 30 * HOUR;
        let young = Activity::restored(vec![slot(now - 25 * MINUTE)], LocalMs(now));
        assert_eq!(span(&[("a", &young)], now), (now - 25 * MINUTE, now), "a new daemon: its own span");
        let old = Activity::restored(vec![slot(now - 23 * HOUR), slot(now - HOUR)], LocalMs(now));
        assert_eq!(span(&[("a", &young), ("b", &old)], now), (now - 23 * HOUR, now), "the oldest target's");
        assert_eq!(span(&[], now), (now - SLOT_MS, now), "nothing yet: one slot");
        assert_eq!(span(&[("a", &Activity::default())], now), (now - SLOT_MS, now));
    }

    #[test]
    fn the_chart_names_the_failures_in_its_legend() {
        let now = LocalMs(5 * HOUR);
        let failed = Slot { start_ms: LocalMs(4 * HOUR), running: 3, failures: 2 };
        let activity = Activity::restored(vec![failed], now);
        let svg = running(&[("prod", &activity)], now).unwrap();
        let texts: Vec<&str> = svg.split("</text>").filter_map(|t| t.rsplit('>').next().map(str::trim)).collect();
        assert!(texts.contains(&"jobs failed (larger: more)") && texts.contains(&"prod"), "{texts:?}");
        assert_eq!(
            texts.iter().filter(|t| t.len() == 5 && t.contains(':')).count(),
            7,
            "04:00 to 05:00 every 10 minutes: {texts:?}"
        );
        assert!(texts.contains(&"04:10") && texts.contains(&"05:00"), "{texts:?}");
    }
}
