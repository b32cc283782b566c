//! The back-off and jitter rules, over the waits the device itself chose (milliseconds
//! between iotscope's refusal or close and the device's next connection). Only ratios of the
//! device's own waits are compared, never a wait against a fixed figure, so a loaded machine
//! that stretches every wait alike does not change the verdict.

/// Why the device's waits break a rule.
#[derive(Debug)]
pub struct Broken(pub String);

/// Exponential back-off: at least `min` waits, the last at least 1.5 × the first, and none
/// shorter than half the one before (jitter may shorten a wait, not halve the trend).
pub fn backoff(waits: &[u64], min: usize) -> Result<String, Broken> {
    if waits.len() < min {
        return Err(Broken(format!(
            "only {} wait(s) measured within the time limit; the rule needs {min}",
            waits.len()
        )));
    }
    let first = waits[0].max(1);
    let last = *waits.last().unwrap_or(&0);
    for pair in waits.windows(2) {
        if pair[1] * 2 < pair[0] {
            return Err(Broken(format!(
                "a wait of {} ms followed one of {} ms: the waits shrink",
                pair[1], pair[0]
            )));
        }
    }
    if last * 2 < first * 3 {
        return Err(Broken(format!(
            "the waits do not grow: the last ({last} ms) is under 1.5 × the first ({first} ms)"
        )));
    }
    Ok(format!(
        "the waits grow from {first} ms to {last} ms ({:.1}×)",
        last as f64 / first as f64
    ))
}

/// Jitter: at least `min` waits, and the ratios between consecutive waits spread by more
/// than 30% (max ratio / min ratio > 1.3). A fixed interval gives ratios near 1, a pure
/// doubling ratios near 2: neither spreads. Once the waits have grown, a ratio near 1 is the
/// back-off reaching its ceiling and is left out, so a capped doubling does not pass for
/// jitter. With six waits, a device drawing each wait at random below a doubling ceiling
/// (full jitter) fails this by chance about once in a thousand runs (simulated).
pub fn jitter(waits: &[u64], min: usize) -> Result<String, Broken> {
    if waits.len() < min {
        return Err(Broken(format!(
            "only {} wait(s) measured within the time limit; the rule needs {min}",
            waits.len()
        )));
    }
    let ratios: Vec<f64> = waits
        .windows(2)
        .map(|p| p[1].max(1) as f64 / p[0].max(1) as f64)
        .collect();
    let mut grown = false;
    let mut kept = Vec::new();
    for &r in &ratios {
        if grown && (0.95..=1.05).contains(&r) {
            continue;
        }
        grown |= r > 1.3;
        kept.push(r);
    }
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    let hi = kept.iter().cloned().fold(f64::MIN, f64::max);
    let lo = kept.iter().cloned().fold(f64::MAX, f64::min);
    if kept.len() >= 2 && hi / lo > 1.3 {
        Ok(format!(
            "the ratios of consecutive waits vary ({}): the waits are randomised",
            shown.join(", ")
        ))
    } else {
        Err(Broken(format!(
            "the ratios of consecutive waits are alike once a ceiling is left out ({}): no jitter",
            shown.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_and_jitter_rules() {
        assert!(backoff(&[1000, 2000, 4000], 3).is_ok());
        assert!(backoff(&[1000, 2000], 3).is_err());
        assert!(backoff(&[200, 210, 190], 3).is_err(), "fixed interval");
        assert!(backoff(&[1000, 300, 4000], 3).is_err(), "shrinks");
        assert!(
            jitter(&[1000, 2000, 4000, 8000], 4).is_err(),
            "pure doubling"
        );
        assert!(jitter(&[500, 500, 500, 500], 4).is_err(), "fixed");
        assert!(jitter(&[700, 2600, 3100, 9000], 4).is_ok());
        assert!(
            jitter(&[1000, 2000, 4000, 8000, 16000, 16000], 6).is_err(),
            "capped doubling"
        );
        assert!(jitter(&[1000, 2000, 4000], 6).is_err(), "too few");
    }
}
