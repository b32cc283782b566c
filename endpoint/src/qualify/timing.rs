//! The back-off and jitter rules, over the waits the device itself chose (milliseconds
//! between iotscope's refusal or close and the device's next connection). Only ratios of the
//! device's own waits are compared, never a wait against a fixed figure, so a loaded machine
//! that stretches every wait alike does not change the verdict.

/// Why the device's waits break a rule.
#[derive(Debug)]
pub struct Broken(pub String);

/// Exponential back-off: at least `min` waits, the last at least 1.5 × the first, and none
/// shorter than half the one before (jitter may shorten a wait, not halve the trend). Each
/// wait is given [`WAIT_SLACK_MS`] in whichever direction goes against the verdict, so a
/// late start neither makes a fixed interval grow nor a real back-off shrink.
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
        if (pair[1] + WAIT_SLACK_MS) * 2 < pair[0].saturating_sub(WAIT_SLACK_MS) {
            return Err(Broken(format!(
                "a wait of {} ms followed one of {} ms: the waits shrink by more than half, \
                 even with {WAIT_SLACK_MS} ms either way",
                pair[1], pair[0]
            )));
        }
    }
    if last.saturating_sub(WAIT_SLACK_MS) * 2 < (first + WAIT_SLACK_MS) * 3 {
        return Err(Broken(format!(
            "the waits do not grow: the last ({last} ms) is under 1.5 × the first ({first} ms) \
             once each is given {WAIT_SLACK_MS} ms either way"
        )));
    }
    Ok(format!(
        "the waits grow from {first} ms to {last} ms ({:.1}×)",
        last as f64 / first as f64
    ))
}

/// How far a measured wait may be from the device's own choice without being jitter: the
/// measure runs from iotscope's close to the device's next TCP connection, so it carries the
/// network's round trip and both machines' scheduling. A fixed 300 ms interval measured on a
/// loaded two-core machine read once as 342, 343, 343, 398, 336, 345 ms: one late start of
/// 55 ms, and ratios that spread by 38%.
pub const WAIT_SLACK_MS: u64 = 50;

/// Jitter: at least `min` waits, and the ratios between consecutive waits spread by more
/// than 30% (max ratio / min ratio > 1.3) even when every wait may be off by
/// [`WAIT_SLACK_MS`] in whichever direction narrows the spread. A fixed interval gives ratios
/// near 1, a pure doubling ratios near 2: neither spreads. Once the waits have grown, a
/// ratio near 1 is the back-off reaching its ceiling and is left out, so a capped doubling
/// does not pass for jitter.
///
/// `tests::jitter_rule_error_rates` simulates how often this goes wrong by chance, over
/// seven waits: a device drawing each wait uniformly below a ceiling doubling from 0.5 s
/// (full jitter) fails 0.12% of the time, one drawing it in the ceiling's upper half (equal
/// jitter) 1.7%; a fixed 340 ms interval with one start up to 150 ms late passes 0.12% of
/// the time, with two up to 100 ms late never.
pub fn jitter(waits: &[u64], min: usize) -> Result<String, Broken> {
    if waits.len() < min {
        return Err(Broken(format!(
            "only {} wait(s) measured within the time limit; the rule needs {min}",
            waits.len()
        )));
    }
    let ms = |w: u64| w.max(1) as f64;
    let slack = WAIT_SLACK_MS as f64;
    let ratios: Vec<f64> = waits.windows(2).map(|p| ms(p[1]) / ms(p[0])).collect();
    // Each kept ratio as the narrowest and widest it could be with the slack.
    let mut grown = false;
    let mut bounds = Vec::new();
    for (p, &r) in waits.windows(2).zip(&ratios) {
        if grown && (0.95..=1.05).contains(&r) {
            continue;
        }
        grown |= r > 1.3;
        let (a, b) = (p[0] as f64, p[1] as f64);
        let low = (b - slack).max(1.0) / (a + slack);
        let high = (b + slack) / (a - slack).max(1.0);
        bounds.push((low, high));
    }
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    let highest_low = bounds.iter().map(|b| b.0).fold(f64::MIN, f64::max);
    let lowest_high = bounds.iter().map(|b| b.1).fold(f64::MAX, f64::min);
    if bounds.len() >= 2 && highest_low / lowest_high > 1.3 {
        Ok(format!(
            "the ratios of consecutive waits vary ({}), by more than {WAIT_SLACK_MS} ms of \
             timing could make them: the waits are randomised",
            shown.join(", ")
        ))
    } else {
        Err(Broken(format!(
            "the ratios of consecutive waits are alike once a ceiling is left out and each \
             wait is given {WAIT_SLACK_MS} ms either way ({}): no jitter",
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
            backoff(&[337, 344, 510], 3).is_err(),
            "a fixed interval, one late start"
        );
        assert!(
            backoff(&[500, 1000, 2000], 3).is_ok(),
            "the SDK's doubling from 0.5 s"
        );
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
        // The fixed 300 ms restart of the doc comment, with one late start: not jitter.
        let late_once = [342, 343, 343, 398, 336, 345, 341];
        assert!(jitter(&late_once, 7).is_err(), "one late start");
        assert!(jitter(&[342, 343, 343, 393, 336, 345, 341], 7).is_err());
        // Waits of the kind full jitter draws: each below a ceiling doubling from 0.5 s.
        assert!(jitter(&[412, 180, 1730, 2950, 640, 11800, 5200], 7).is_ok());
    }

    /// A small seeded generator, so the simulated rates are the same on every run.
    struct XorShift(u64);
    impl XorShift {
        fn below(&mut self, n: f64) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64 * n
        }
    }

    /// The rates docs/qualify.md quotes, simulated on this rule.
    #[test]
    fn jitter_rule_error_rates() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let runs = 20_000;
        let ceiling = |k: u32| (500u64 << k).min(16_000) as f64;
        let mut rate = |draw: &mut dyn FnMut(&mut XorShift) -> Vec<u64>, want_pass: bool| {
            let wrong = (0..runs)
                .filter(|_| jitter(&draw(&mut rng), 7).is_ok() != want_pass)
                .count();
            wrong as f64 / runs as f64 * 100.0
        };
        let full = rate(
            &mut |r| (0..7).map(|k| r.below(ceiling(k)) as u64).collect(),
            true,
        );
        let equal = rate(
            &mut |r| {
                (0..7)
                    .map(|k| (ceiling(k) / 2.0 + r.below(ceiling(k) / 2.0)) as u64)
                    .collect()
            },
            true,
        );
        let late = |r: &mut XorShift, starts: usize, most: f64| {
            let mut w: Vec<u64> = (0..7).map(|_| 335 + r.below(11.0) as u64).collect();
            // Late starts on different connections.
            let first = r.below(7.0) as usize;
            for n in 0..starts {
                let i = (first + n * (1 + r.below(6.0) as usize)) % 7;
                w[i] += r.below(most) as u64;
            }
            w
        };
        let late_once = rate(&mut |r| late(r, 1, 150.0), false);
        let late_twice = rate(&mut |r| late(r, 2, 100.0), false);
        let rates = format!(
            "full {full:.2}%, equal {equal:.2}%, late once {late_once:.2}%, twice {late_twice:.2}%"
        );
        eprintln!("simulated, {runs} series each: {rates}");
        assert!(full < 0.2, "{rates}");
        assert!(equal < 2.5, "{rates}");
        assert!(late_once < 0.5, "{rates}");
        assert!(late_twice < 0.1, "{rates}");
    }
}
