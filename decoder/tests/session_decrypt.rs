//! Decryption through `Session::feed` on synthetic connections: records sealed here with
//! known secrets, fed whole and in small pieces, must come out as the same decoded events
//! (marked decrypted) and diagnoses as the plaintext would give; what cannot be decrypted
//! is said once per direction and nothing is misread.

#[path = "session_decrypt/early.rs"]
mod early;
#[path = "session_decrypt/run.rs"]
mod run;
#[path = "session_decrypt/tls12.rs"]
mod tls12;
#[path = "session_decrypt/tls13.rs"]
mod tls13;
#[path = "session_decrypt/wire.rs"]
mod wire;
