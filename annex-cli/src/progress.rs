//! Progress of one transfer: a bar on a terminal (indicatif, on stdout
//! where git-annex draws its meter), `--json-progress` objects, or nothing.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Nothing (not a terminal, `--quiet`, or `--json` without progress).
    None,
    /// A bar on the terminal.
    Bar,
    /// `--json-progress` objects.
    Json,
}

impl ProgressMode {
    /// The mode for a command's output options.
    pub fn choose(json: bool, json_progress: bool, quiet: bool) -> ProgressMode {
        if json_progress {
            ProgressMode::Json
        } else if json || quiet || !std::io::stdout().is_terminal() {
            ProgressMode::None
        } else {
            ProgressMode::Bar
        }
    }
}

/// The meter of one transfer.
#[derive(Debug)]
pub struct Meter {
    bar: Option<ProgressBar>,
    json: Option<Value>,
    total: Option<u64>,
    /// When the last `--json-progress` object was written.
    last_time: Option<Instant>,
    last_bytes: Option<u64>,
}

/// At most one `--json-progress` object per this much time (the whole
/// content always shown), as git-annex's `jsonratelimit`.
const JSON_RATE_LIMIT: Duration = Duration::from_millis(100);

/// git-annex's `showPercentage 2`: up to two decimals, trailing zeros
/// dropped.
pub fn percentage(total: u64, done: u64) -> String {
    if total == 0 {
        return "0%".into();
    }
    let p = done as f64 * 100.0 / total as f64;
    let int = p.trunc() as u64;
    let mut rem = ((p - p.trunc()) * 100.0).round() as u64;
    let mut int2 = int;
    if rem == 100 {
        int2 += 1;
        rem = 0;
    }
    if rem == 0 {
        return format!("{}%", p.round() as u64);
    }
    let frac = format!("{rem:02}");
    format!("{int2}.{}%", frac.trim_end_matches('0'))
}

impl Meter {
    /// A meter for content of `total` bytes; `action` is the action's
    /// JSON (for `--json-progress`).
    pub fn new(mode: ProgressMode, total: Option<u64>, action: Option<Value>) -> Meter {
        let bar = (mode == ProgressMode::Bar).then(|| {
            // As git-annex, the meter gets a line of its own under the
            // action's; cleared at the end, the action ends on that line.
            let _ = crate::output::text(format_args!("\n"));
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stdout());
            if let Ok(style) = ProgressStyle::with_template(
                "{percent:>3}% {bytes:>10} {binary_bytes_per_sec:>12} {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Meter {
            bar,
            json: if mode == ProgressMode::Json {
                action
            } else {
                None
            },
            total,
            last_time: None,
            last_bytes: None,
        }
    }

    /// A meter for one of several transfers running at once (`-J`): on a
    /// terminal a bar of `bars` labelled `label` (the action's line, as
    /// `get FILE (from REMOTE...)`), the action's own line being printed
    /// when the caller reports it; `--json-progress` objects with `action`
    /// as for [`Meter::new`].
    pub fn parallel(
        mode: ProgressMode,
        total: Option<u64>,
        action: Value,
        bars: Option<&MultiProgress>,
        label: String,
    ) -> Meter {
        let bar = match (mode, bars) {
            (ProgressMode::Bar, Some(bars)) => {
                let bar = bars.add(match total {
                    Some(t) => ProgressBar::new(t),
                    None => ProgressBar::no_length(),
                });
                if let Ok(style) = ProgressStyle::with_template(
                    "{prefix} {percent:>3}% {bytes:>10} {binary_bytes_per_sec:>12} {eta}",
                ) {
                    bar.set_style(style);
                }
                bar.set_prefix(label);
                Some(bar)
            }
            _ => None,
        };
        Meter {
            bar,
            json: (mode == ProgressMode::Json).then_some(action),
            total,
            last_time: None,
            last_bytes: None,
        }
    }

    /// Where the bars of transfers running at once are drawn (stdout, as
    /// a single transfer's), when `mode` draws bars.
    pub fn bars(mode: ProgressMode) -> Option<MultiProgress> {
        (mode == ProgressMode::Bar)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()))
    }

    /// Reports the bytes done so far.
    pub fn update(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
        if self.json.is_some() && done > 0 && self.last_bytes != Some(done) {
            // As git-annex: the whole content is always shown, anything
            // less when the last object is old enough.
            let whole = self.total.is_some_and(|t| done >= t);
            let now = Instant::now();
            let due = self
                .last_time
                .is_none_or(|t| now.duration_since(t) >= JSON_RATE_LIMIT);
            if whole || due {
                self.emit(done);
                self.last_time = Some(now);
                self.last_bytes = Some(done);
            }
        }
    }

    fn emit(&self, done: u64) {
        let Some(action) = &self.json else {
            return;
        };
        let mut o = Map::new();
        o.insert("action".into(), action.clone());
        o.insert("byte-progress".into(), Value::from(done));
        if let Some(t) = self.total {
            o.insert(
                "percent-progress".into(),
                Value::String(percentage(t, done)),
            );
            o.insert("total-size".into(), Value::from(t));
        }
        // A closed stdout shows up when the action's own line is printed.
        let _ = crate::action::print_json(&Value::Object(o));
    }

    /// Clears the bar.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percentage;

    #[test]
    fn percentages_as_git_annex_shows_them() {
        assert_eq!(percentage(6, 6), "100%");
        assert_eq!(percentage(3, 1), "33.33%");
        assert_eq!(percentage(8, 1), "12.5%");
        assert_eq!(percentage(100000, 99999), "100%");
    }
}
