//! Decryption throughput: TLS 1.3 application records of 16 KiB for each AEAD suite, opened
//! by `RecordDecryptor` as a replay with a key log would.
//!
//! Run with `cargo bench -p iotscope-decoder --bench decrypt`.

use aws_lc_rs::aead::{
    Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use iotscope_decoder::decrypt::{tls13_record_key_iv, RecordDecryptor};

const RECORD: usize = 16 * 1024;
const RECORDS: u64 = 512;

/// `RECORDS` sealed records (header, payload) for `suite` under `secret`.
fn records(suite: u16, secret: &[u8]) -> Vec<([u8; 5], Vec<u8>)> {
    let (key, iv) = tls13_record_key_iv(suite, secret).unwrap();
    let alg = match suite {
        0x1301 => &AES_128_GCM,
        0x1302 => &AES_256_GCM,
        _ => &CHACHA20_POLY1305,
    };
    let key = LessSafeKey::new(UnboundKey::new(alg, &key).unwrap());
    (0..RECORDS)
        .map(|seq| {
            let mut plain = vec![0x5a; RECORD];
            plain.push(23); // inner content type: application data
            let len = (plain.len() + 16) as u16;
            let header = [23, 3, 3, (len >> 8) as u8, len as u8];
            let mut nonce = iv;
            for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *n ^= s;
            }
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut plain,
            )
            .unwrap();
            (header, plain)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decrypt_tls13");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(RECORD as u64 * RECORDS));
    for (suite, name, secret_len) in [
        (0x1301u16, "TLS_AES_128_GCM_SHA256", 32),
        (0x1302, "TLS_AES_256_GCM_SHA384", 48),
        (0x1303, "TLS_CHACHA20_POLY1305_SHA256", 32),
    ] {
        let secret = vec![0x42u8; secret_len];
        let recs = records(suite, &secret);
        g.bench_with_input(BenchmarkId::new(name, RECORD), &recs, |b, recs| {
            b.iter(|| {
                let mut d = RecordDecryptor::tls13(suite, &secret).unwrap();
                let mut n = 0;
                for (h, p) in recs {
                    n += d.decrypt(h, p).unwrap().1.len();
                }
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
