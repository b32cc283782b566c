//! The results table: one Markdown row per measurement, with the aim issue 9 sets for it
//! and whether this run met it.
//!
//! Input is the `key=value` lines the tools and `bench/run` printed (later lines win). A
//! measurement whose keys are missing is shown as not measured rather than left out, so the
//! table always has the same rows.

use std::collections::BTreeMap;
use std::path::Path;

pub type Results = BTreeMap<String, String>;

pub fn run(file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    print!("{}", table(&parse(&text)));
    Ok(())
}

/// `key=value` per line; blank lines and lines starting with `#` are skipped.
pub fn parse(text: &str) -> Results {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

struct Row {
    what: String,
    baseline: String,
    iotscope: String,
    compared: String,
    aim: &'static str,
    /// `None`: no aim, or nothing to judge.
    met: Option<bool>,
}

const NOT_MEASURED: &str = "not measured";

fn num(r: &Results, key: &str) -> Option<f64> {
    r.get(key)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// A number with thousands separators and `decimals` decimals.
pub fn group(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    if v < 0.0 && out.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.insert(0, '−');
    }
    out
}

/// `+12.5` / `−3.0`.
fn signed(v: f64) -> String {
    format!("{}{}", if v >= 0.0 { "+" } else { "" }, group(v, 1))
}

/// `; bare relay X` when the bare relay was measured too.
fn with_relay(v: Option<String>) -> String {
    v.map_or(String::new(), |v| format!("; bare relay {v}"))
}

fn or_missing(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| NOT_MEASURED.to_string(), f)
}

fn throughput(r: &Results) -> Row {
    let (d, p) = (num(r, "tp_direct_mib_s"), num(r, "tp_proxy_mib_s"));
    let size = num(r, "tp_bytes").map_or_else(
        || "a long stream".to_string(),
        |b| format!("one {} GiB stream", group(b / (1u64 << 30) as f64, 2)),
    );
    let relay = num(r, "tp_relay_mib_s");
    let ratio = d.zip(p).filter(|(d, _)| *d > 0.0).map(|(d, p)| p / d);
    let relay_ratio = d.zip(relay).filter(|(d, _)| *d > 0.0).map(|(d, b)| b / d);
    Row {
        what: format!("1. throughput, {size} over loopback (MiB/s)"),
        baseline: or_missing(d, |v| {
            format!(
                "direct {}{}",
                group(v, 0),
                with_relay(relay.map(|b| group(b, 0)))
            )
        }),
        iotscope: or_missing(p, |v| format!("passthrough {}", group(v, 0))),
        compared: or_missing(ratio, |v| {
            format!(
                "ratio {v:.2}{}",
                with_relay(relay_ratio.map(|b| format!("{b:.2}")))
            )
        }),
        aim: "≥ 0.90 of direct",
        met: ratio.map(|v| v >= 0.9),
    }
}

fn latency(r: &Results, pct: &str) -> Row {
    let d = num(r, &format!("lat_direct_{pct}_us"));
    let p = num(r, &format!("lat_proxy_{pct}_us"));
    let relay = num(r, &format!("lat_relay_{pct}_us"));
    let added = d.zip(p).map(|(d, p)| p - d);
    let relay_added = d.zip(relay).map(|(d, b)| signed(b - d));
    let judged = pct == "p50";
    let count = num(r, "lat_direct_count").map_or(String::new(), |n| {
        format!(", {} round trips each", group(n, 0))
    });
    Row {
        what: if judged {
            format!("2. MQTT PUBLISH QoS 1 → PUBACK via mosquitto, p50 (µs{count})")
        } else {
            format!("2. same, {pct} (µs)")
        },
        baseline: or_missing(d, |v| {
            format!(
                "direct {}{}",
                group(v, 1),
                with_relay(relay.map(|b| group(b, 1)))
            )
        }),
        iotscope: or_missing(p, |v| format!("passthrough {}", group(v, 1))),
        compared: or_missing(added, |v| {
            format!("{} µs added{}", signed(v), with_relay(relay_added.clone()))
        }),
        aim: if judged {
            "< 100 µs added"
        } else {
            "none set"
        },
        met: if judged {
            added.map(|v| v < 100.0)
        } else {
            None
        },
    }
}

fn handshakes(r: &Results, mode: &str) -> Row {
    let d = num(r, "hs_direct_per_s");
    let p = num(r, &format!("hs_{mode}_per_s"));
    let note = r.get(&format!("hs_{mode}_note")).cloned();
    let ratio = d.zip(p).filter(|(d, _)| *d > 0.0).map(|(d, p)| p / d);
    Row {
        what: if mode == "passthrough" {
            "3. TLS 1.3 handshakes with a client certificate, per second".to_string()
        } else {
            format!("3. same, through {}", mode.to_uppercase())
        },
        baseline: or_missing(d, |v| format!("direct {}", group(v, 0))),
        iotscope: match (p, note) {
            (Some(v), _) => format!("{mode} {}", group(v, 0)),
            (None, Some(n)) => n,
            (None, None) => NOT_MEASURED.to_string(),
        },
        compared: ratio.map_or_else(|| "—".to_string(), |v| format!("ratio {v:.2}")),
        aim: "none set",
        met: None,
    }
}

fn idle(r: &Results, n: u32) -> Row {
    let base = num(r, "rss_base_kib");
    let held = num(r, &format!("rss_{n}_kib"));
    let note = r.get(&format!("rss_{n}_note")).cloned();
    // Fewer connections than asked when the descriptor limit allows no more.
    let count = num(r, &format!("rss_{n}_count")).unwrap_or(f64::from(n));
    let per = base
        .zip(held)
        .filter(|_| count > 0.0)
        .map(|(b, h)| (h - b) / count);
    let asked = if count == f64::from(n) {
        String::new()
    } else {
        format!(" ({} asked; ulimit -n)", group(f64::from(n), 0))
    };
    Row {
        what: format!(
            "4. proxy RSS holding {} idle passthrough connections{asked}",
            group(count, 0)
        ),
        baseline: or_missing(base, |v| format!("at rest {} MiB", group(v / 1024.0, 1))),
        iotscope: match (held, note) {
            (Some(v), _) => format!("{} MiB", group(v / 1024.0, 1)),
            (None, Some(n)) => n,
            (None, None) => NOT_MEASURED.to_string(),
        },
        compared: or_missing(per, |v| format!("{} KiB per connection", group(v, 1))),
        aim: "< 16 KiB per connection",
        met: per.map(|v| v < 16.0),
    }
}

fn replay_speed(r: &Results) -> Row {
    let bytes = num(r, "replay_bytes");
    let rate = |key: &str| {
        bytes
            .zip(num(r, key))
            .filter(|(_, s)| *s > 0.0)
            .map(|(b, s)| b / 1e6 / s)
    };
    let (t, i) = (rate("replay_tshark_s"), rate("replay_iotscope_s"));
    let ratio = t.zip(i).filter(|(t, _)| *t > 0.0).map(|(t, i)| i / t);
    let size = bytes.map_or_else(
        || "a large capture".to_string(),
        |b| format!("a {} GB capture", group(b / 1e9, 2)),
    );
    Row {
        what: format!("5. replay of {size} (MB/s)"),
        baseline: match (t, r.get("replay_tshark_note")) {
            (Some(v), _) => format!("tshark {}", group(v, 1)),
            (None, Some(n)) => n.clone(),
            (None, None) => NOT_MEASURED.to_string(),
        },
        iotscope: or_missing(i, |v| format!("iotscope {}", group(v, 1))),
        compared: or_missing(ratio, |v| format!("{v:.1} × tshark")),
        aim: "≥ 20 × tshark",
        met: ratio.map(|v| v >= 20.0),
    }
}

fn replay_memory(r: &Results) -> Row {
    let mib = |key: &str| num(r, key).map(|k| k / 1024.0);
    let (t, i, small) = (
        mib("replay_tshark_rss_kib"),
        mib("replay_iotscope_rss_kib"),
        mib("replay_small_iotscope_rss_kib"),
    );
    let small_size = num(r, "replay_small_bytes").map_or_else(
        || "the smaller capture".to_string(),
        |b| format!("{} MB", group(b / 1e6, 0)),
    );
    let growth = i.zip(small).filter(|(_, s)| *s > 0.0).map(|(i, s)| i / s);
    Row {
        what: "5. same, peak RSS (MiB)".to_string(),
        baseline: match (t, r.get("replay_tshark_note")) {
            (Some(v), _) => format!("tshark {}", group(v, 0)),
            (None, Some(n)) => n.clone(),
            (None, None) => NOT_MEASURED.to_string(),
        },
        iotscope: or_missing(i, |v| format!("iotscope {}", group(v, 1))),
        compared: match (growth, small) {
            (Some(g), Some(s)) => format!("{} on {small_size}: ×{g:.2}", group(s, 1)),
            _ => "—".to_string(),
        },
        aim: "flat: ≤ 1.5 × the peak on a capture 1/10 (--quick: 1/2) the size",
        met: growth.map(|g| g <= 1.5),
    }
}

/// The whole table.
pub fn table(r: &Results) -> String {
    let rows = [
        throughput(r),
        latency(r, "p50"),
        latency(r, "p99"),
        handshakes(r, "passthrough"),
        handshakes(r, "mitm"),
        idle(r, 1000),
        idle(r, 10000),
        replay_speed(r),
        replay_memory(r),
    ];
    let mut out = String::from(
        "| measurement | baseline | iotscope | comparison | aim (issue 9) | met |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {met} |\n",
            row.what, row.baseline, row.iotscope, row.compared, row.aim
        ));
    }
    let notes = cpu_notes(r);
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes);
    }
    out
}

/// CPU time the relaying processes spent per GiB in step 1, user and kernel apart: on
/// loopback the kernel's copies are most of a relay's cost.
fn cpu_notes(r: &Results) -> String {
    let mut out = String::new();
    for (name, label) in [("proxy", "iotscope proxy"), ("relay", "bare relay")] {
        let user = num(r, &format!("tp_{name}_user_s_per_gib"));
        let sys = num(r, &format!("tp_{name}_sys_s_per_gib"));
        if let Some((u, k)) = user.zip(sys) {
            out.push_str(&format!(
                "- CPU per GiB relayed in step 1, {label}: {:.2} s ({:.2} s user, {:.2} s kernel)\n",
                u + k,
                u,
                k
            ));
        }
    }
    let bytes = num(r, "replay_bytes");
    let (i, t) = (
        num(r, "replay_iotscope_cpu_s"),
        num(r, "replay_tshark_cpu_s"),
    );
    if let Some((b, (i, t))) = bytes
        .zip(i.zip(t))
        .filter(|(_, (i, t))| *i > 0.0 && *t > 0.0)
    {
        out.push_str(&format!(
            "- CPU time for the replay in step 5: iotscope {i:.1} s ({:.1} MB per CPU second), tshark {t:.1} s ({:.1}): {:.1} × by CPU time\n",
            b / 1e6 / i,
            b / 1e6 / t,
            t / i
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(table: &'a str, starts: &str) -> Vec<&'a str> {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("| {starts}")))
            .unwrap_or_else(|| panic!("no row {starts:?} in\n{table}"));
        line.trim_matches('|').split(" | ").map(str::trim).collect()
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group(1234567.0, 0), "1,234,567");
        assert_eq!(group(999.0, 0), "999");
        assert_eq!(group(1000.26, 1), "1,000.3");
        assert_eq!(group(-12.5, 1), "−12.5");
        assert_eq!(group(-0.01, 1), "0.0");
    }

    #[test]
    fn later_lines_win_and_comments_are_skipped() {
        let r = parse("# run 1\na=1\n\nb = 2\na=3\nnot a pair\n");
        assert_eq!(r.get("a").map(String::as_str), Some("3"));
        assert_eq!(r.get("b").map(String::as_str), Some("2"));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn throughput_ratio_against_its_aim() {
        let t = table(&parse(
            "tp_bytes=1073741824\ntp_direct_mib_s=2000\ntp_proxy_mib_s=1500\n",
        ));
        let cells = row(&t, "1. throughput");
        assert_eq!(
            cells[0],
            "1. throughput, one 1.00 GiB stream over loopback (MiB/s)"
        );
        assert_eq!(cells[1], "direct 2,000");
        assert_eq!(cells[2], "passthrough 1,500");
        assert_eq!(cells[3], "ratio 0.75");
        assert_eq!(cells[5], "**no**");
        let t = table(&parse("tp_direct_mib_s=2000\ntp_proxy_mib_s=1900\n"));
        assert_eq!(row(&t, "1. throughput")[5], "yes");
    }

    #[test]
    fn latency_judges_the_p50_difference_only() {
        let t = table(&parse(
            "lat_direct_p50_us=40.0\nlat_proxy_p50_us=95.5\nlat_direct_p99_us=80\nlat_proxy_p99_us=400\n",
        ));
        let p50 = row(&t, "2. MQTT");
        assert_eq!(p50[3], "+55.5 µs added");
        assert_eq!(p50[5], "yes");
        let p99 = row(&t, "2. same, p99");
        assert_eq!(p99[3], "+320.0 µs added");
        assert_eq!(p99[5], "—");
        let t = table(&parse("lat_direct_p50_us=40.0\nlat_proxy_p50_us=140.0\n"));
        assert_eq!(row(&t, "2. MQTT")[5], "**no**");
    }

    #[test]
    fn mitm_shows_why_it_was_not_measured() {
        let t = table(&parse(
            "hs_direct_per_s=800\nhs_passthrough_per_s=600\nhs_mitm_note=n/a (no --mitm)\n",
        ));
        assert_eq!(row(&t, "3. TLS")[3], "ratio 0.75");
        let m = row(&t, "3. same, through MITM");
        assert_eq!(m[2], "n/a (no --mitm)");
        assert_eq!(m[3], "—");
    }

    #[test]
    fn idle_memory_per_connection() {
        let t = table(&parse(
            "rss_base_kib=10240\nrss_1000_kib=30240\nrss_10000_kib=160240\n",
        ));
        let a = row(&t, "4. proxy RSS holding 1,000 ");
        assert_eq!(a[1], "at rest 10.0 MiB");
        assert_eq!(a[2], "29.5 MiB");
        assert_eq!(a[3], "20.0 KiB per connection");
        assert_eq!(a[5], "**no**");
        let b = row(&t, "4. proxy RSS holding 10,000 ");
        assert_eq!(b[3], "15.0 KiB per connection");
        assert_eq!(b[5], "yes");
    }

    #[test]
    fn replay_speed_and_flat_memory() {
        let t = table(&parse(
            "replay_bytes=1100000000\nreplay_iotscope_s=50\nreplay_tshark_s=100\n\
             replay_iotscope_rss_kib=27648\nreplay_tshark_rss_kib=4194304\n\
             replay_small_bytes=110000000\nreplay_small_iotscope_rss_kib=21504\n",
        ));
        let s = row(&t, "5. replay");
        assert_eq!(s[0], "5. replay of a 1.10 GB capture (MB/s)");
        assert_eq!(s[1], "tshark 11.0");
        assert_eq!(s[2], "iotscope 22.0");
        assert_eq!(s[3], "2.0 × tshark");
        assert_eq!(s[5], "**no**");
        let m = row(&t, "5. same, peak RSS");
        assert_eq!(m[1], "tshark 4,096");
        assert_eq!(m[2], "iotscope 27.0");
        assert_eq!(m[3], "21.0 on 110 MB: ×1.29");
        assert_eq!(m[5], "yes");
    }

    #[test]
    fn bare_relay_and_cpu_shown_beside_the_proxy() {
        let t = table(&parse(
            "tp_direct_mib_s=1000\ntp_proxy_mib_s=400\ntp_relay_mib_s=500\n\
             lat_direct_p50_us=100\nlat_proxy_p50_us=250\nlat_relay_p50_us=180\n\
             tp_proxy_user_s_per_gib=0.5\ntp_proxy_sys_s_per_gib=1.25\n",
        ));
        let tp = row(&t, "1. throughput");
        assert_eq!(tp[1], "direct 1,000; bare relay 500");
        assert_eq!(tp[3], "ratio 0.40; bare relay 0.50");
        let lat = row(&t, "2. MQTT");
        assert_eq!(lat[1], "direct 100.0; bare relay 180.0");
        assert_eq!(lat[3], "+150.0 µs added; bare relay +80.0");
        assert!(t.ends_with(
            "- CPU per GiB relayed in step 1, iotscope proxy: 1.75 s (0.50 s user, 1.25 s kernel)\n"
        ));
    }

    #[test]
    fn replay_cpu_time_ratio() {
        let t = table(&parse(
            "replay_bytes=1000000000\nreplay_iotscope_cpu_s=50\nreplay_tshark_cpu_s=100\n",
        ));
        assert!(
            t.ends_with("- CPU time for the replay in step 5: iotscope 50.0 s (20.0 MB per CPU second), tshark 100.0 s (10.0): 2.0 × by CPU time\n"),
            "{t}"
        );
    }

    #[test]
    fn idle_row_says_when_fewer_connections_were_held() {
        let t = table(&parse(
            "rss_base_kib=1024\nrss_10000_kib=100024\nrss_10000_count=9900\n",
        ));
        let cells = row(&t, "4. proxy RSS holding 9,900 ");
        assert_eq!(
            cells[0],
            "4. proxy RSS holding 9,900 idle passthrough connections (10,000 asked; ulimit -n)"
        );
        assert_eq!(cells[3], "10.0 KiB per connection");
    }

    #[test]
    fn every_row_is_there_without_results() {
        let t = table(&Results::new());
        assert_eq!(t.lines().count(), 2 + 9);
        assert!(t.lines().skip(2).all(|l| l.ends_with("| — |")), "{t}");
        assert_eq!(row(&t, "1. throughput")[1], NOT_MEASURED);
    }
}
