//! Compiling `runtime_over_usual: 3x` with its `min_runs` and `window` (SPEC §3).

use super::load::Located;
use super::matcher::UsualLimit;
use super::RuleError;
use crate::usual::MAX_WINDOW;
use serde_json::{Map, Value};

const DEFAULT_MIN_RUNS: u32 = 5;
const DEFAULT_WINDOW: u32 = 20;

/// The limit of a rule's `runtime_over_usual` (`value`), with `min_runs` and `window` from `map`.
pub fn limit(r: &Located, map: &Map<String, Value>, value: &Value, errors: &mut Vec<RuleError>) -> Option<UsualLimit> {
    let factor = factor(value);
    if factor.is_none() {
        errors.push(r.error(
            Some("runtime_over_usual"),
            "`runtime_over_usual` takes a factor above 1 such as 3x (or 1.5x): the runtime over which a job is unusual, as a multiple of its notebook's median runtime",
        ));
    }
    let min_runs = count(r, map, "min_runs", DEFAULT_MIN_RUNS, errors);
    let window = count(r, map, "window", DEFAULT_WINDOW, errors);
    if let (Some(min_runs), Some(window)) = (min_runs, window) {
        if min_runs > window {
            let message = format!("`min_runs` ({min_runs}) is more than `window` ({window}), so the key could never hold; make `window` at least `min_runs`");
            errors.push(r.error(Some("min_runs"), message));
            return None;
        }
    }
    Some(UsualLimit { factor: factor?, min_runs: min_runs?, window: window? })
}

/// `3x`, `1.5x`, `3` or 3: above 1, finite.
fn factor(value: &Value) -> Option<f64> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().strip_suffix(['x', 'X']).unwrap_or(s.trim()).trim().parse().ok(),
        _ => None,
    };
    number.filter(|f: &f64| f.is_finite() && *f > 1.0)
}

fn count(r: &Located, map: &Map<String, Value>, key: &str, default: u32, errors: &mut Vec<RuleError>) -> Option<u32> {
    let Some(value) = map.get(key) else { return Some(default) };
    let parsed = value.as_u64().filter(|n| (1..=u64::from(MAX_WINDOW)).contains(n)).map(|n| n as u32);
    if parsed.is_none() {
        errors.push(r.error(Some(key), format!("`{key}` takes a whole number from 1 to {MAX_WINDOW}")));
    }
    parsed
}

#[cfg(test)]
mod tests {
    use crate::arcgis::{Job, Status};
    use crate::clock::ServerMs;
    use crate::rules::{RuleSet, Subject, Verdict};
    use crate::usual::Usual;

    const MIN: i64 = 60_000;

    fn rules(matching: &str) -> Result<RuleSet, String> {
        let yaml = format!("rules:\n  - {{ name: slow, match: {{ {matching} }}, actions: [{{ type: cancel }}] }}\n");
        RuleSet::parse(std::path::Path::new("r.yaml"), &yaml, &["t"])
            .map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
    }

    /// `runs` earlier runs of item `nb` of 10 minutes each (one of 30 minutes, below the median).
    fn usual(runs: usize) -> Usual {
        let mut usual = Usual::default();
        for n in 0..runs {
            usual.add("nb", if n == 0 { 30 * MIN } else { 10 * MIN });
        }
        usual
    }

    /// A job of item `nb` running for `minutes` at time 0.
    fn running(minutes: i64) -> Job {
        Job {
            item_id: Some("nb".into()),
            started_at: Some(ServerMs(-minutes * MIN)),
            ..Job::new("j", Status::Executing)
        }
    }

    #[test]
    fn holds_at_three_and_a_half_times_the_median_of_six_runs_not_at_twice() {
        let set = rules("runtime_over_usual: 3x").unwrap();
        let condition = &set.rules[0].conditions[0];
        let six = usual(6);
        let check = |job: &Job| condition.check(&Subject::at(job, ServerMs(0), &six));
        assert_eq!(check(&running(35)), Verdict::Holds, "35 m is 3.5 x the median of 10 m");
        assert_eq!(check(&running(20)), Verdict::Fails, "20 m is 2 x");
        let explained = condition.explain(&Subject::at(&running(35), ServerMs(0), &six));
        assert!(explained.contains("the median of the last 6 run(s) of item nb is 10m, times 3 is 30m"), "{explained}");
        let no_item = Job { item_id: None, ..running(35) };
        assert_eq!(check(&no_item), Verdict::Unanswerable, "no item id: the key cannot be answered");
    }

    #[test]
    fn four_earlier_runs_of_five_needed_make_it_false_and_say_why() {
        let set = rules("runtime_over_usual: 3x").unwrap();
        let condition = &set.rules[0].conditions[0];
        let four = usual(4);
        let long = running(600);
        let subject = Subject::at(&long, ServerMs(0), &four);
        assert_eq!(condition.check(&subject), Verdict::Fails);
        let why = condition.explain(&subject);
        assert!(why.contains("only 4 earlier run(s) of item nb are known, 5 needed (min_runs)"), "{why}");
        let three_of_three = rules("runtime_over_usual: 2x, min_runs: 3, window: 3").unwrap_or_else(|e| panic!("{e}"));
        let c = &three_of_three.rules[0].conditions[0];
        assert_eq!(
            c.check(&Subject::at(&running(35), ServerMs(0), &four)),
            Verdict::Holds,
            "the last 3 runs: 10 m each"
        );
    }

    #[test]
    fn bad_values_are_located_errors() {
        for (matching, wanted) in [
            ("runtime_over_usual: 1x", "a factor above 1"),
            ("runtime_over_usual: three", "a factor above 1"),
            ("runtime_over_usual: 3x, min_runs: 0", "`min_runs` takes a whole number from 1 to 100"),
            ("runtime_over_usual: 3x, window: 500", "`window` takes a whole number from 1 to 100"),
            ("runtime_over_usual: 3x, min_runs: 8, window: 5", "make `window` at least `min_runs`"),
            ("runtime_over: 1h, window: 5", "`window` goes with `runtime_over_usual`"),
        ] {
            let error = rules(matching).expect_err(matching);
            assert!(error.contains(wanted) && error.starts_with("r.yaml:2"), "{matching}: {error}");
        }
        assert!(rules("runtime_over_usual: 1.5x").is_ok() && rules("runtime_over_usual: 2").is_ok());
    }
}
