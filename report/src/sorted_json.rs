//! JSON written straight into bytes, with every object's keys in sorted order.
//!
//! The JSON Lines output has always had sorted keys, because it was built as a
//! `serde_json::Value` tree first (whose maps sort their keys) and printed after. Building
//! that tree cost more than decoding the connection: one allocation per key, per string and
//! per map node, all freed again a moment later. This serializer gives the same bytes without
//! the tree. Everything is written in place in the output as it comes. An object whose members
//! came in key order is then finished as it stands; otherwise, when it ends, its members (which
//! lie behind its start, values nested inside them included) are copied to a scratch buffer in
//! key order and copied back over themselves. The scratch buffer and the list of members are
//! kept between calls, so a steady stream of connections allocates nothing.
//!
//! Measured by `cargo bench -p iotscope-report --bench json` over the 22 connections of the
//! sample and lab captures (with events): this writer takes 513 µs per pass, the
//! `serde_json::Value` tree 1.12 ms for the same bytes, so the tree would more than double the
//! cost of every JSON line.
//!
//! What `serde_json::to_value` does, this does too: a repeated key keeps its last value, an
//! `f32` is widened to `f64`, map keys may be strings, numbers, booleans, chars or unit
//! variants, and anything else as a key is an error.

use std::ops::Range;

use serde::ser::{self, Impossible, Serialize};
use serde_json::Error;

/// Reusable scratch space for [`SortedJson::write`].
#[derive(Default)]
pub struct SortedJson {
    scratch: Scratch,
}

impl SortedJson {
    pub fn new() -> SortedJson {
        SortedJson::default()
    }

    /// Appends `value` as compact JSON with sorted object keys to `out`.
    pub fn write<T: Serialize + ?Sized>(
        &mut self,
        out: &mut Vec<u8>,
        value: &T,
    ) -> Result<(), Error> {
        let done = value.serialize(Ser {
            out,
            scratch: &mut self.scratch,
        });
        self.scratch.members.clear();
        if self.scratch.bytes.capacity() > KEEP_BYTES {
            // One huge object should not pin its memory for the rest of the run.
            self.scratch.bytes = Vec::new();
        }
        done
    }
}

#[derive(Default)]
struct Scratch {
    /// One object's members in key order, before they are copied back.
    bytes: Vec<u8>,
    /// The members of every object still open, innermost last.
    members: Vec<Member>,
}

/// One member of an open object; its ranges are positions in the output.
struct Member {
    /// The key's first eight bytes, big-endian, zero-padded: most keys differ in them, so
    /// most comparisons while sorting are one integer comparison.
    prefix: u64,
    key: Key,
    value: Range<usize>,
}

fn prefix_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

enum Key {
    Static(&'static str),
    /// A range of the output holding the key's text, written there just before its value.
    Owned(Range<usize>),
}

/// Scratch space grown beyond this by one big object is let go rather than kept.
const KEEP_BYTES: usize = 1 << 20;

/// The bytes JSON strings escape (as serde_json does): control characters, `"` and `\\`.
static ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether any byte of `b` must be escaped. Eight bytes at a time: a byte below 0x20, or equal
/// to `"` or `\\`, sets its top bit in one of the three words below (the classic "has a byte
/// less than n" and "has a zero byte" tricks). A false alarm only sends the string the slow way.
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = b.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let control = x.wrapping_sub(ONES * 0x20) & !x;
        let q = x ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q;
        let bs = x ^ (ONES * u64::from(b'\\'));
        let backslash = bs.wrapping_sub(ONES) & !bs;
        if (control | quote | backslash) & TOPS != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&c| ESCAPED[usize::from(c)])
}

/// Writes `s` as a JSON string. Most strings need no escaping at all; those are copied whole
/// after a quick scan, the rest go through serde_json's escaper.
fn write_str(out: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    if needs_escape(s.as_bytes()) {
        return ser::Serializer::serialize_str(&mut serde_json::Serializer::new(out), s);
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

struct Ser<'a> {
    out: &'a mut Vec<u8>,
    scratch: &'a mut Scratch,
}

macro_rules! direct {
    ($($method:ident: $t:ty),*) => {
        $(fn $method(self, v: $t) -> Result<(), Error> {
            ser::Serializer::$method(&mut serde_json::Serializer::new(self.out), v)
        })*
    };
}

impl<'a> ser::Serializer for Ser<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    direct!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f64: f64,
        serialize_char: char, serialize_bytes: &[u8]);

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v)
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        write_str(self.out, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        write_str(self.out, variant)?;
        self.out.push(b':');
        value.serialize(Ser {
            out: self.out,
            scratch: self.scratch,
        })?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a>, Error> {
        self.out.push(b'[');
        Ok(Seq {
            out: self.out,
            scratch: self.scratch,
            first: true,
            close: "]",
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'a>, Error> {
        self.out.push(b'{');
        write_str(self.out, variant)?;
        self.out.extend_from_slice(b":[");
        Ok(Seq {
            out: self.out,
            scratch: self.scratch,
            first: true,
            close: "]}",
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>, Error> {
        Ok(Object::open(self.out, self.scratch, "}"))
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Object<'a>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Object<'a>, Error> {
        self.out.push(b'{');
        write_str(self.out, variant)?;
        self.out.push(b':');
        Ok(Object::open(self.out, self.scratch, "}}"))
    }
}

/// An array, or a tuple variant's array, written in place.
struct Seq<'a> {
    out: &'a mut Vec<u8>,
    scratch: &'a mut Scratch,
    first: bool,
    close: &'static str,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Ser {
            out: self.out,
            scratch: self.scratch,
        })
    }

    fn close(self) -> Result<(), Error> {
        self.out.extend_from_slice(self.close.as_bytes());
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// An object (map, struct, or a struct variant's inner object), written in place as its
/// members come. When they came in key order (as the hand-written views of [`super::json`]
/// give them) that is already the result; otherwise the members are put in order when the
/// object ends.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    scratch: &'a mut Scratch,
    /// Where the object starts in `out` (its `{`).
    start: usize,
    /// Where its members start in the scratch list.
    first_member: usize,
    /// Every member so far came with a static key greater than the one before.
    in_order: bool,
    /// A map key waiting for its value.
    pending: Option<Key>,
    close: &'static str,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>, scratch: &'a mut Scratch, close: &'static str) -> Object<'a> {
        let start = out.len();
        out.push(b'{');
        Object {
            start,
            first_member: scratch.members.len(),
            out,
            scratch,
            in_order: true,
            pending: None,
            close,
        }
    }

    fn member<T: Serialize + ?Sized>(&mut self, key: Key, value: &T) -> Result<(), Error> {
        let prefix = prefix_of(Self::key_text(self.out, &key));
        if let Key::Static(k) = &key {
            if self.in_order {
                if let Some(last) = self
                    .scratch
                    .members
                    .get(self.first_member..)
                    .and_then(<[_]>::last)
                {
                    let after =
                        (last.prefix, Self::key_text(self.out, &last.key)) < (prefix, k.as_bytes());
                    self.in_order = after;
                }
            }
            if self.in_order {
                if self.scratch.members.len() > self.first_member {
                    self.out.push(b',');
                }
                write_str(self.out, k)?;
                self.out.push(b':');
            }
        }
        let start = self.out.len();
        value.serialize(Ser {
            out: self.out,
            scratch: self.scratch,
        })?;
        let end = self.out.len();
        self.scratch.members.push(Member {
            prefix,
            key,
            value: start..end,
        });
        Ok(())
    }

    fn key_text<'k>(out: &'k [u8], key: &'k Key) -> &'k [u8] {
        match key {
            Key::Static(s) => s.as_bytes(),
            Key::Owned(r) => out.get(r.clone()).unwrap_or_default(),
        }
    }

    fn finish(self) -> Result<(), Error> {
        if self.in_order {
            self.scratch.members.truncate(self.first_member);
            self.out.extend_from_slice(self.close.as_bytes());
            return Ok(());
        }
        let Scratch { bytes, members } = self.scratch;
        let out: &[u8] = self.out;
        let mine = members.get_mut(self.first_member..).unwrap_or_default();
        // Among equal keys the one written last (its value lies further on) stays last.
        mine.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| Self::key_text(out, &a.key).cmp(Self::key_text(out, &b.key)))
                .then(a.value.start.cmp(&b.value.start))
        });
        bytes.clear();
        bytes.push(b'{');
        let mut first = true;
        for (i, m) in mine.iter().enumerate() {
            let key = Self::key_text(out, &m.key);
            let repeated = mine
                .get(i + 1)
                .is_some_and(|next| Self::key_text(out, &next.key) == key);
            if repeated {
                continue;
            }
            if !first {
                bytes.push(b',');
            }
            first = false;
            match &m.key {
                Key::Static(s) => write_str(bytes, s)?,
                // Written from a `&str` by `KeySer`, so this is text.
                Key::Owned(_) => write_str(bytes, std::str::from_utf8(key).unwrap_or_default())?,
            }
            bytes.push(b':');
            bytes.extend_from_slice(out.get(m.value.clone()).unwrap_or_default());
        }
        bytes.extend_from_slice(self.close.as_bytes());
        members.truncate(self.first_member);
        self.out.truncate(self.start);
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        // The key's bare text goes into the output to be compared; the object is then put
        // together again, in order and with its keys quoted, when it ends.
        self.in_order = false;
        let start = self.out.len();
        key.serialize(KeySer { out: self.out })?;
        self.pending = Some(Key::Owned(start..self.out.len()));
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .pending
            .take()
            .ok_or_else(|| ser::Error::custom("a map value came without its key"))?;
        self.member(key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.member(Key::Static(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.member(Key::Static(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Writes a map key's text (unquoted, unescaped), as `serde_json::to_value` would turn it
/// into a string.
struct KeySer<'a> {
    out: &'a mut Vec<u8>,
}

fn key_must_be_a_string() -> Error {
    ser::Error::custom("key must be a string")
}

macro_rules! integer_key {
    ($($method:ident: $t:ty),*) => {
        $(fn $method(self, v: $t) -> Result<(), Error> {
            self.out.extend_from_slice(v.to_string().as_bytes());
            Ok(())
        })*
    };
}

impl ser::Serializer for KeySer<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    integer_key!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128);

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" as &[u8] } else { b"false" });
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if !v.is_finite() {
            return Err(ser::Error::custom("float key must be finite"));
        }
        // serde_json prints a finite float the same way as a value and as a key.
        serde_json::to_writer(&mut *self.out, &v)
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        let mut b = [0u8; 4];
        self.out.extend_from_slice(v.encode_utf8(&mut b).as_bytes());
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::SocketAddr;

    use serde::Serialize;
    use serde_json::json;

    use super::SortedJson;

    /// The bytes `serde_json` prints for the value tree of `v`: the reference.
    fn via_value<T: Serialize>(v: &T) -> String {
        serde_json::to_string(&serde_json::to_value(v).unwrap()).unwrap()
    }

    fn sorted<T: Serialize>(v: &T) -> String {
        let mut out = Vec::new();
        SortedJson::new().write(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[derive(Serialize)]
    #[serde(tag = "event", rename_all = "snake_case")]
    enum Tagged {
        Plain,
        Inner(Inner),
        Fields { zeta: u8, alpha: Option<String> },
    }

    #[derive(Serialize)]
    struct Inner {
        z: f32,
        a: Vec<(u8, String)>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        addr: SocketAddr,
    }

    #[derive(Serialize)]
    struct Outer {
        b: bool,
        #[serde(flatten)]
        tagged: Tagged,
        a_then_flattened: HashMap<u16, char>,
        newtype: Wrapped,
        tuple_variant: Shape,
    }

    #[derive(Serialize)]
    struct Wrapped(&'static str);

    #[derive(Serialize)]
    enum Shape {
        Pair(i64, f64),
    }

    #[test]
    fn same_bytes_as_the_value_tree() {
        let cases = [
            Outer {
                b: true,
                tagged: Tagged::Plain,
                a_then_flattened: HashMap::from([(10, 'x'), (9, '"')]),
                newtype: Wrapped("quote \" and \u{1} control"),
                tuple_variant: Shape::Pair(-3, 0.1),
            },
            Outer {
                b: false,
                tagged: Tagged::Inner(Inner {
                    z: 0.1,
                    a: vec![(1, "é".into()), (2, "\n".into())],
                    skipped: None,
                    addr: "[2001:db8::1]:8883".parse().unwrap(),
                }),
                a_then_flattened: HashMap::new(),
                newtype: Wrapped(""),
                tuple_variant: Shape::Pair(i64::MIN, f64::NAN),
            },
            Outer {
                b: false,
                tagged: Tagged::Fields {
                    zeta: 255,
                    alpha: Some("a".into()),
                },
                a_then_flattened: HashMap::from([(1, 'a')]),
                newtype: Wrapped("w"),
                tuple_variant: Shape::Pair(0, 1e300),
            },
        ];
        for c in &cases {
            assert_eq!(sorted(c), via_value(c));
        }
    }

    #[test]
    fn every_byte_that_needs_escaping_is_found_anywhere_in_a_string() {
        for pos in 0..20 {
            for special in (0u8..0x20).chain([b'"', b'\\']) {
                let mut b = vec![b'a'; 20];
                b[pos] = special;
                assert!(super::needs_escape(&b), "byte {special:#x} at {pos}");
                let text = String::from_utf8(b).unwrap();
                assert_eq!(sorted(&text), serde_json::to_string(&text).unwrap());
            }
        }
        let plain: String = (0x20u8..0x7f)
            .filter(|c| *c != b'"' && *c != b'\\')
            .map(char::from)
            .chain("é→🙂".chars())
            .collect();
        assert!(!super::needs_escape(plain.as_bytes()));
        assert_eq!(sorted(&plain), serde_json::to_string(&plain).unwrap());
    }

    #[test]
    fn values_and_nesting() {
        let v = json!({"b": [{"y": 1, "x": [null, 2.5, "s"]}], "a": {"d": {}, "c": []}});
        assert_eq!(
            sorted(&v),
            r#"{"a":{"c":[],"d":{}},"b":[{"x":[null,2.5,"s"],"y":1}]}"#
        );
    }

    /// A key written twice keeps its last value, as a map insert would.
    #[test]
    fn repeated_key_keeps_the_last_value() {
        struct Twice;
        impl Serialize for Twice {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("k", &1)?;
                m.serialize_entry("a", &0)?;
                m.serialize_entry("k", &2)?;
                m.end()
            }
        }
        assert_eq!(sorted(&Twice), r#"{"a":0,"k":2}"#);
        assert_eq!(sorted(&Twice), via_value(&Twice));
    }

    #[test]
    fn keys_that_are_not_text_are_refused() {
        let m: HashMap<Vec<u8>, u8> = HashMap::from([(vec![1], 1)]);
        assert!(SortedJson::new().write(&mut Vec::new(), &m).is_err());
        assert!(serde_json::to_value(&m).is_err());
    }
}
