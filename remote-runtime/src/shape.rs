//! The shape of a type, as its `Deserialize` implementation reveals it: the
//! names serde gives its structs, fields, enums and variants, and the
//! primitive each leaf reads. A method's check (see [`crate::Method`]) is a
//! hash of the shapes of its argument and return types, so two builds whose
//! `Store` has different fields refuse each other's calls instead of
//! decoding one into the other.
//!
//! The shape is found by running the type's `Deserialize` against a tracer:
//! a deserializer that answers every request with the smallest value (zero,
//! empty, the first variant, one element) and records what was asked. It is
//! cheap (once per method per process) and needs nothing from the user.
//!
//! What it sees: every primitive, string, byte buffer, option, sequence, map
//! and tuple; the names serde uses for structs and enums (the Rust names,
//! or `#[serde(rename)]`); every field name, in order; every variant name.
//! What it does not see: the contents of an enum's variants after the first
//! (their names are seen); types reached only through a recursion deeper
//! than [`MAX_DEPTH`]; anything after a `Deserialize` implementation refuses
//! the tracer's value (a validating type, or a handle, which is seen by its
//! trait's name and then checked when it crosses); the inside of a type
//! that asks for a self-describing format (`deserialize_any`: untagged
//! enums, `serde_json::Value`), which cannot be decoded here anyway.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

/// How deep the tracer follows nested types before it answers with the
/// empty value (no element, no entry, `None`) or stops.
pub(crate) const MAX_DEPTH: usize = 24;

/// How many things one trace records at most, however large the type.
const MAX_EVENTS: usize = 4096;

/// A 64-bit FNV-1a over the recorded events, each closed by a separator.
struct Trace {
    hash: u64,
    events: usize,
}

impl Trace {
    fn new() -> Self {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            events: 0,
        }
    }

    fn add(&mut self, what: &str) -> Result<(), Stop> {
        self.events += 1;
        if self.events > MAX_EVENTS {
            return Err(Stop("too large to trace".into()));
        }
        for b in what.bytes().chain(std::iter::once(0xff)) {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
        Ok(())
    }
}

/// Why a trace stopped; its message is part of the shape.
#[derive(Debug)]
struct Stop(String);

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Stop(msg.to_string())
    }
}

thread_local! {
    /// Set while this thread traces a shape.
    static TRACING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is tracing a shape: a handle's `Deserialize` then
/// stops the trace with [`handle_stop`] instead of looking for a frame.
pub(crate) fn tracing() -> bool {
    TRACING.with(std::cell::Cell::get)
}

/// The stop a handle of trait `name` puts in a trace: the same on every
/// side, whatever frame is being decoded there.
pub(crate) fn handle_stop(name: &str) -> String {
    format!("{HANDLE}{name}")
}

const HANDLE: &str = "handle of ";

/// The shape hash of `T`. It depends only on `T`'s `Deserialize`, never on
/// what this thread is doing: a trace run while a frame is decoded sees no
/// frame, and what it records of a refusal is fixed ("refused", or the
/// trait of a handle), not the refusing library's wording.
pub fn shape_of<T: DeserializeOwned>() -> u64 {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            TRACING.with(|t| t.set(self.0));
        }
    }
    // Restored even if a `Deserialize` panics.
    let _restore = Restore(TRACING.with(|t| t.replace(true)));
    let mut trace = Trace::new();
    let outcome = crate::wire::codec::keeping_message(|| {
        T::deserialize(Tracer {
            trace: &mut trace,
            depth: 0,
        })
    });
    if let Err(stop) = outcome {
        // Where it stopped is part of the shape, and what stopped it when
        // that is a handle.
        let _ = trace.add("!");
        trace.events = 0;
        let what = if stop.0.starts_with(HANDLE) {
            stop.0.as_str()
        } else {
            "refused"
        };
        let _ = trace.add(what);
    }
    trace.hash
}

/// A method's check: the shapes of its arguments and of its return value,
/// folded to 32 bits, never 0 (which means "not checked").
pub fn check(shapes: &[fn() -> u64]) -> u32 {
    let mut trace = Trace::new();
    for shape in shapes {
        let _ = trace.add(&format!("{:016x}", shape()));
    }
    let folded = (trace.hash ^ (trace.hash >> 32)) as u32;
    folded.max(1)
}

struct Tracer<'t> {
    trace: &'t mut Trace,
    depth: usize,
}

impl<'t> Tracer<'t> {
    fn deeper(&mut self) -> Tracer<'_> {
        Tracer {
            trace: self.trace,
            depth: self.depth + 1,
        }
    }

    fn at_limit(&self) -> bool {
        self.depth >= MAX_DEPTH
    }

    /// This tracer again, at the same depth (for the next element).
    fn again(&mut self) -> Tracer<'_> {
        Tracer {
            trace: self.trace,
            depth: self.depth,
        }
    }
}

macro_rules! primitive {
    ($($method:ident => $visit:ident($($value:expr)?)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
                self.trace.add(stringify!($method))?;
                visitor.$visit($($value)?)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Tracer<'_> {
    type Error = Stop;

    primitive! {
        deserialize_bool => visit_bool(false),
        deserialize_i8 => visit_i8(0),
        deserialize_i16 => visit_i16(0),
        deserialize_i32 => visit_i32(0),
        deserialize_i64 => visit_i64(0),
        deserialize_i128 => visit_i128(0),
        deserialize_u8 => visit_u8(0),
        deserialize_u16 => visit_u16(0),
        deserialize_u32 => visit_u32(0),
        deserialize_u64 => visit_u64(0),
        deserialize_u128 => visit_u128(0),
        deserialize_f32 => visit_f32(0.0),
        deserialize_f64 => visit_f64(0.0),
        deserialize_char => visit_char('\0'),
        deserialize_str => visit_str(""),
        deserialize_string => visit_str(""),
        deserialize_bytes => visit_bytes(&[]),
        deserialize_byte_buf => visit_bytes(&[]),
        deserialize_unit => visit_unit(),
        deserialize_identifier => visit_u32(0),
        deserialize_ignored_any => visit_unit(),
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop("self-describing".into()))
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Stop> {
        self.trace.add("option")?;
        if self.at_limit() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self.deeper())
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Stop> {
        self.trace.add("unit struct")?;
        self.trace.add(name)?;
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Stop> {
        self.trace.add("newtype")?;
        self.trace.add(name)?;
        if self.at_limit() {
            return Err(Stop("deep".into()));
        }
        visitor.visit_newtype_struct(self.deeper())
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Stop> {
        self.trace.add("seq")?;
        let len = usize::from(!self.at_limit());
        visitor.visit_seq(Elements {
            tracer: self.deeper(),
            left: len,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Stop> {
        self.trace.add("tuple")?;
        self.trace.add(&len.to_string())?;
        self.fields(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Stop> {
        self.trace.add("tuple struct")?;
        self.trace.add(name)?;
        self.trace.add(&len.to_string())?;
        self.fields(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Stop> {
        self.trace.add("map")?;
        let len = usize::from(!self.at_limit());
        visitor.visit_map(Entries {
            tracer: self.deeper(),
            left: len,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        self.trace.add("struct")?;
        self.trace.add(name)?;
        for field in fields {
            self.trace.add(field)?;
        }
        self.fields(fields.len(), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        self.trace.add("enum")?;
        self.trace.add(name)?;
        for variant in variants {
            self.trace.add(variant)?;
        }
        if self.at_limit() {
            return Err(Stop("deep".into()));
        }
        visitor.visit_enum(FirstVariant {
            tracer: self.deeper(),
        })
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

impl Tracer<'_> {
    /// A fixed number of positional values (a tuple, or a struct's fields).
    fn fields<'de, V: Visitor<'de>>(mut self, len: usize, visitor: V) -> Result<V::Value, Stop> {
        if self.at_limit() {
            return Err(Stop("deep".into()));
        }
        visitor.visit_seq(Elements {
            tracer: self.deeper(),
            left: len,
        })
    }
}

struct Elements<'t> {
    tracer: Tracer<'t>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Elements<'_> {
    type Error = Stop;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Stop> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(self.tracer.again()).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct Entries<'t> {
    tracer: Tracer<'t>,
    left: usize,
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Stop> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(self.tracer.again()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Stop> {
        seed.deserialize(self.tracer.again())
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct FirstVariant<'t> {
    tracer: Tracer<'t>,
}

impl<'de, 't> de::EnumAccess<'de> for FirstVariant<'t> {
    type Error = Stop;
    type Variant = Tracer<'t>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Tracer<'t>), Stop> {
        let index: de::value::U32Deserializer<Stop> = 0u32.into_deserializer();
        let value = seed.deserialize(index)?;
        Ok((value, self.tracer))
    }
}

impl<'de> de::VariantAccess<'de> for Tracer<'_> {
    type Error = Stop;

    fn unit_variant(self) -> Result<(), Stop> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Stop> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Stop> {
        de::Deserializer::deserialize_tuple(self, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::HashMap;

    mod v1 {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub struct Item {
            pub a: u32,
            pub b: u32,
        }
    }

    mod v2 {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub struct Item {
            pub a: u64,
        }
    }

    mod v3 {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub struct Item {
            pub a: u32,
            pub c: u32,
        }
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    enum Shape {
        Circle { r: f64 },
        Square(f64),
        Dot,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    enum Shape2 {
        Circle { r: f64 },
        Square(f64),
        Dot,
        Triangle,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Tree {
        children: Vec<Tree>,
        parent: Option<Box<Tree>>,
        label: String,
    }

    #[test]
    fn same_name_different_fields_differ() {
        let a = shape_of::<v1::Item>();
        assert_ne!(a, shape_of::<v2::Item>());
        assert_ne!(a, shape_of::<v3::Item>(), "a renamed field is a change");
        assert_eq!(a, shape_of::<v1::Item>(), "the shape is stable");
    }

    #[test]
    fn primitives_and_containers_are_told_apart() {
        assert_ne!(shape_of::<u32>(), shape_of::<i32>());
        assert_ne!(shape_of::<Vec<u32>>(), shape_of::<Vec<u64>>());
        assert_ne!(shape_of::<Option<u8>>(), shape_of::<u8>());
        assert_ne!(
            shape_of::<HashMap<String, u32>>(),
            shape_of::<HashMap<String, i32>>()
        );
        assert_ne!(shape_of::<(u8, u8)>(), shape_of::<(u8, u8, u8)>());
        // Same on the wire, same shape.
        assert_eq!(shape_of::<String>(), shape_of::<Box<str>>());
        assert_eq!(shape_of::<Vec<String>>(), shape_of::<Vec<String>>());
    }

    #[test]
    fn an_added_variant_is_a_change() {
        assert_ne!(shape_of::<Shape>(), shape_of::<Shape2>());
    }

    #[test]
    fn recursive_types_end() {
        let a = shape_of::<Tree>();
        assert_eq!(a, shape_of::<Tree>());
    }

    #[test]
    fn the_check_is_never_zero_and_depends_on_order() {
        assert_ne!(
            check(&[shape_of::<u32>, shape_of::<String>]),
            check(&[shape_of::<String>, shape_of::<u32>])
        );
        assert_ne!(check(&[]), 0);
    }
}
