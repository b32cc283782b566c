mod common;
use common::*;

#[test]
fn explore() {
    for sub in ["public", "lab"] {
        let mut files: Vec<_> = std::fs::read_dir(captures_dir().join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
            .collect();
        files.sort();
        for f in files {
            let run = run_file(&f);
            println!(
                "{} packets {} err {:?}",
                f.file_name().unwrap().to_string_lossy(),
                run.packets.len(),
                run.error
            );
            for fl in run.flows() {
                println!("  flow {} {:?} -> {:?} syn {} bytes {}/{} gaps {:?} fin {:?} rst {:?} first_fin {:?}", fl.id, fl.device, fl.endpoint, fl.syn_seen, fl.data[0].len(), fl.data[1].len(), fl.gaps, fl.fin, fl.rst, fl.first_fin);
            }
            for w in run.warnings() {
                println!("  warn {w:?}");
            }
        }
    }
}
