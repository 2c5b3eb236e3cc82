//! Medians, spreads and the Markdown table the bench prints.
//!
//! Every figure is the median of several samples, shown with its spread (the lowest and
//! highest sample), because on a shared machine a single number says little; comparisons are
//! ratios of medians taken side by side in one run.

use std::time::Duration;

/// A median and the range of the samples it came from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stats {
    pub(crate) median: f64,
    pub(crate) low: f64,
    pub(crate) high: f64,
    /// The 90th percentile (for latencies).
    pub(crate) p90: f64,
}

impl Stats {
    pub(crate) fn of(samples: &[f64]) -> Stats {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        if s.is_empty() {
            return Stats { median: f64::NAN, low: f64::NAN, high: f64::NAN, p90: f64::NAN };
        }
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        Stats { median: at(0.5), low: s[0], high: s[s.len() - 1], p90: at(0.9) }
    }

    /// In seconds.
    pub(crate) fn of_durations(samples: &[Duration]) -> Stats {
        Stats::of(&samples.iter().map(Duration::as_secs_f64).collect::<Vec<_>>())
    }
}

/// `1234567.8` as `1,234,568`.
pub(crate) fn count(x: f64) -> String {
    let digits = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate with the range of its samples.
pub(crate) fn rate(s: &Stats, unit: &str) -> String {
    format!("{} {unit} ({}–{})", count(s.median), count(s.low), count(s.high))
}

/// A latency median with its 90th percentile.
pub(crate) fn ms(s: &Stats) -> String {
    format!("{:.2} ms (p90 {:.2})", s.median * 1000.0, s.p90 * 1000.0)
}

/// One row of the table.
pub(crate) struct Line {
    what: String,
    measured: String,
    baseline: String,
    ratio: String,
    goal: String,
    met: &'static str,
}

impl Line {
    /// A ratio that must reach `goal`.
    pub(crate) fn ratio(what: String, measured: String, baseline: String, r: f64, goal: f64) -> Line {
        let met = if r >= goal { "met" } else { "**missed**" };
        Line { what, measured, baseline, ratio: format!("{r:.2}×"), goal: format!("≥ {goal}×"), met }
    }

    /// A ratio that must stay at or below `goal`.
    pub(crate) fn ratio_at_most(what: String, measured: String, baseline: String, r: f64, goal: f64) -> Line {
        let met = if r <= goal { "met" } else { "**missed**" };
        Line { what, measured, baseline, ratio: format!("{r:.2}×"), goal: format!("≤ {goal}×"), met }
    }

    /// An absolute figure that must stay below `goal`.
    pub(crate) fn below(what: String, measured: String, value: f64, goal: f64, unit: &str) -> Line {
        let met = if value < goal { "met" } else { "**missed**" };
        Line {
            what,
            measured,
            baseline: String::new(),
            ratio: String::new(),
            goal: format!("< {goal} {unit}"),
            met,
        }
    }

    /// An absolute figure that must reach `goal`.
    pub(crate) fn at_least(what: String, measured: String, value: f64, goal: f64, unit: &str) -> Line {
        let met = if value >= goal { "met" } else { "**missed**" };
        let goal = format!("≥ {} {unit}", count(goal));
        Line { what, measured, baseline: String::new(), ratio: String::new(), goal, met }
    }

    /// A figure shown to explain another, with no target of its own.
    pub(crate) fn info(what: &str, measured: String, baseline: String, ratio: String) -> Line {
        Line { what: what.into(), measured, baseline, ratio, goal: String::new(), met: "" }
    }
}

/// The table, in Markdown.
pub(crate) fn table(lines: &[Line]) -> String {
    let mut out = String::from(
        "| Measurement | Measured (median, range or p90) | Baseline (median) | Ratio | Target | Result |\n\
         |---|---|---|---|---|---|\n",
    );
    for l in lines {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            l.what, l.measured, l.baseline, l.ratio, l.goal, l.met
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_separators_and_medians_are_middles() {
        assert_eq!(count(1_234_567.8), "1,234,568");
        assert_eq!(count(999.0), "999");
        let s = Stats::of(&[5.0, 1.0, 3.0]);
        assert_eq!((s.median, s.low, s.high), (3.0, 1.0, 5.0));
    }
}
