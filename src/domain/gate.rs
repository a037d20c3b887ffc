//! The quality gate (issue 11): a scheme's optional thresholds, what the scans of a revision
//! measured against them, and the verdict a job keeps. Pure: the numbers come from the store
//! (`db::gate`), which evaluates the gate in the transaction that closes a job.

use serde::{Deserialize, Serialize};

/// The tool and rules of the built-in checker that report secrets: what "no new secrets"
/// looks at (`analyzers::builtin` checks that these are its security rules).
pub const SECRET_TOOL: &str = "codepup";
pub const SECRET_RULES: &[&str] = &["private-key", "secret-token"];

/// The largest count a threshold may allow.
pub const MAX_COUNT: i64 = 1_000_000;

/// A scheme's thresholds; each one unset is not checked.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GateThresholds {
    /// At most this many new findings of severity error or worse (fatal 1, error 2).
    pub max_new_errors: Option<i64>,
    /// No new finding of the built-in checker's secret rules.
    pub no_new_secrets: bool,
    /// At most this many new functions over the scheme's complexity threshold (`min_ccn`).
    pub max_new_complex: Option<i64>,
    /// A duplicate rate (percent of lines, from jscpd) of at most this.
    pub max_dup_rate: Option<f64>,
}

impl GateThresholds {
    /// Whether no threshold is set: such a scheme's jobs have no verdict.
    pub fn is_empty(&self) -> bool {
        *self == GateThresholds::default()
    }
}

/// Functions of a revision that are new over the complexity threshold, and that threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewComplex {
    pub count: i64,
    pub threshold: i64,
}

/// What the scans of one revision measured; `None` where nothing measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GateMeasures {
    pub new_errors: Option<i64>,
    pub new_secrets: Option<i64>,
    pub new_complex: Option<NewComplex>,
    pub dup_rate: Option<f64>,
}

/// A job's verdict: whether it passed, and each threshold it failed, with numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateVerdict {
    pub passed: bool,
    pub reasons: Vec<String>,
}

/// The verdict of `measures` against `thresholds`; `None` when no threshold is set. A
/// threshold whose value nothing measured fails, saying so: a gate never passes unchecked.
pub fn judge(thresholds: &GateThresholds, measures: &GateMeasures) -> Option<GateVerdict> {
    if thresholds.is_empty() {
        return None;
    }
    let mut reasons = Vec::new();
    if let Some(max) = thresholds.max_new_errors {
        let allowed = format!("at most {max} allowed");
        match measures.new_errors {
            None => reasons.push(format!(
                "new findings not checked: the scan ran no lint tool ({allowed})"
            )),
            Some(count) if count > max => reasons.push(format!(
                "{} of severity error or worse ({allowed})",
                plural(count, "new finding", "new findings")
            )),
            Some(_) => {}
        }
    }
    if thresholds.no_new_secrets {
        match measures.new_secrets {
            None => reasons.push(format!(
                "secrets not checked: the scan did not run the built-in checker ({SECRET_TOOL}), \
                 which finds them (none allowed)"
            )),
            Some(count) if count > 0 => reasons.push(format!(
                "{} (none allowed)",
                plural(count, "new secret", "new secrets")
            )),
            Some(_) => {}
        }
    }
    if let Some(max) = thresholds.max_new_complex {
        match measures.new_complex {
            None => reasons.push(format!(
                "complexity not measured: the scheme does not measure cyclomatic complexity \
                 (cc_scan_enabled) (at most {max} allowed)"
            )),
            Some(found) if found.count > max => reasons.push(format!(
                "{} over the complexity threshold {} (at most {max} allowed)",
                plural(found.count, "new function", "new functions"),
                found.threshold
            )),
            Some(_) => {}
        }
    }
    if let Some(max) = thresholds.max_dup_rate {
        let allowed = format!("at most {}% allowed", percent(max));
        match measures.dup_rate {
            None => reasons.push(format!(
                "duplicate rate not measured: the scheme does not look for duplicate code \
                 (dup_scan_enabled) ({allowed})"
            )),
            Some(rate) if rate > max => {
                reasons.push(format!("duplicate rate {}% ({allowed})", percent(rate)))
            }
            Some(_) => {}
        }
    }
    Some(GateVerdict {
        passed: reasons.is_empty(),
        reasons,
    })
}

fn plural(count: i64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// A percentage with at most two decimals and no trailing zeros: `5`, `12.5`, `0.33`.
fn percent(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A duplicate-rate threshold: a finite percentage from 0 to 100.
pub fn check_dup_rate(value: f64) -> Result<f64, String> {
    if value.is_finite() && (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err("Ensure this value is a percentage from 0 to 100.".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: GateThresholds = GateThresholds {
        max_new_errors: Some(0),
        no_new_secrets: true,
        max_new_complex: Some(1),
        max_dup_rate: Some(5.0),
    };

    fn clean() -> GateMeasures {
        GateMeasures {
            new_errors: Some(0),
            new_secrets: Some(0),
            new_complex: Some(NewComplex {
                count: 1,
                threshold: 20,
            }),
            dup_rate: Some(5.0),
        }
    }

    #[test]
    fn no_thresholds_is_no_verdict() {
        assert_eq!(judge(&GateThresholds::default(), &clean()), None);
        assert_eq!(
            judge(&GateThresholds::default(), &GateMeasures::default()),
            None
        );
    }

    #[test]
    fn measures_at_the_thresholds_pass() {
        let verdict = judge(&ALL, &clean()).unwrap();
        assert!(verdict.passed, "{verdict:?}");
        assert!(verdict.reasons.is_empty());
    }

    #[test]
    fn each_threshold_passed_fails_with_its_numbers() {
        let measures = GateMeasures {
            new_errors: Some(3),
            new_secrets: Some(1),
            new_complex: Some(NewComplex {
                count: 2,
                threshold: 15,
            }),
            dup_rate: Some(12.5),
        };
        let verdict = judge(&ALL, &measures).unwrap();
        assert!(!verdict.passed);
        assert_eq!(
            verdict.reasons,
            [
                "3 new findings of severity error or worse (at most 0 allowed)",
                "1 new secret (none allowed)",
                "2 new functions over the complexity threshold 15 (at most 1 allowed)",
                "duplicate rate 12.5% (at most 5% allowed)",
            ]
        );
    }

    #[test]
    fn a_threshold_nothing_measured_fails_and_says_so() {
        let verdict = judge(&ALL, &GateMeasures::default()).unwrap();
        assert!(!verdict.passed);
        assert_eq!(verdict.reasons.len(), 4, "{verdict:?}");
        assert!(verdict.reasons[0].starts_with("new findings not checked"));
        assert!(verdict.reasons[3].contains("dup_scan_enabled"));
        // An unset threshold is not checked, measured or not.
        let only_dup = GateThresholds {
            max_dup_rate: Some(1.0),
            ..GateThresholds::default()
        };
        let measures = GateMeasures {
            dup_rate: Some(0.5),
            ..GateMeasures::default()
        };
        assert!(judge(&only_dup, &measures).unwrap().passed);
    }

    #[test]
    fn verdicts_read_back_as_they_were_written() {
        let verdict = judge(&ALL, &GateMeasures::default()).unwrap();
        let text = serde_json::to_string(&verdict).unwrap();
        assert_eq!(serde_json::from_str::<GateVerdict>(&text).unwrap(), verdict);
    }

    #[test]
    fn percentages_are_short_and_rates_are_checked() {
        assert_eq!(percent(5.0), "5");
        assert_eq!(percent(12.5), "12.5");
        assert_eq!(percent(1.0 / 3.0), "0.33");
        assert_eq!(percent(0.0), "0");
        assert!(check_dup_rate(0.0).is_ok() && check_dup_rate(100.0).is_ok());
        assert!(check_dup_rate(-0.1).is_err());
        assert!(check_dup_rate(100.5).is_err());
        assert!(check_dup_rate(f64::NAN).is_err());
    }
}
