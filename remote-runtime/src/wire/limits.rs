//! Decoding limits for values a peer sends: how deeply values may nest and
//! how many elements one sequence or map may have. A serde adapter counts
//! both as the value is decoded, so a hostile frame fails with a clear error
//! instead of exhausting the stack or looping over a claimed length.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use crate::RemoteError;

/// The limits and the running depth of one decode.
pub(crate) struct Limits {
    pub(crate) max_depth: usize,
    pub(crate) max_collection: usize,
    depth: Cell<usize>,
    /// The limit that was hit, for the caller's typed error.
    pub(crate) exceeded: Cell<Option<(&'static str, usize)>>,
}

impl Limits {
    pub(crate) fn new(max_depth: usize, max_collection: usize) -> Self {
        Limits {
            max_depth,
            max_collection,
            depth: Cell::new(0),
            exceeded: Cell::new(None),
        }
    }

    pub(crate) fn error(&self) -> Option<RemoteError> {
        self.exceeded
            .get()
            .map(|(what, limit)| RemoteError::LimitExceeded {
                what: what.to_string(),
                limit: limit as u64,
            })
    }

    fn fail<E: de::Error>(&self, what: &'static str, limit: usize) -> E {
        self.exceeded.set(Some((what, limit)));
        super::codec::de_error(format_args!("more than {limit} {what}"))
    }

    fn enter<E: de::Error>(&self) -> Result<(), E> {
        let depth = self.depth.get() + 1;
        if depth > self.max_depth {
            return Err(self.fail("nesting levels in one value", self.max_depth));
        }
        self.depth.set(depth);
        Ok(())
    }

    /// Counts one more element of a collection against the limit.
    fn admit<E: de::Error>(&self, count: &mut usize, what: &'static str) -> Result<(), E> {
        *count += 1;
        if *count > self.max_collection {
            return Err(self.fail(what, self.max_collection));
        }
        Ok(())
    }

    fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }
}

/// Decodes a `T` through the limits.
pub(crate) struct Limited<'l, T> {
    pub(crate) limits: &'l Limits,
    pub(crate) seed: T,
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Limited<'_, T> {
    type Value = T::Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.seed.deserialize(LimitedDeserializer {
            inner: deserializer,
            limits: self.limits,
        })
    }
}

struct LimitedDeserializer<'l, D> {
    inner: D,
    limits: &'l Limits,
}

struct LimitedVisitor<'l, V> {
    inner: V,
    limits: &'l Limits,
}

macro_rules! forward_deserialize {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.inner.$method(LimitedVisitor { inner: visitor, limits: self.limits })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for LimitedDeserializer<'_, D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = LimitedVisitor {
            inner: visitor,
            limits: self.limits,
        };
        self.inner.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = LimitedVisitor {
            inner: visitor,
            limits: self.limits,
        };
        self.inner.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = LimitedVisitor {
            inner: visitor,
            limits: self.limits,
        };
        self.inner.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = LimitedVisitor {
            inner: visitor,
            limits: self.limits,
        };
        self.inner.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = LimitedVisitor {
            inner: visitor,
            limits: self.limits,
        };
        self.inner.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = LimitedVisitor {
            inner: visitor,
            limits: self.limits,
        };
        self.inner.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for LimitedVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit!(
        visit_bool: bool, visit_i8: i8, visit_i16: i16, visit_i32: i32, visit_i64: i64,
        visit_i128: i128, visit_u8: u8, visit_u16: u16, visit_u32: u32, visit_u64: u64,
        visit_u128: u128, visit_f32: f32, visit_f64: f64, visit_char: char, visit_str: &str,
        visit_borrowed_str: &'de str, visit_string: String, visit_bytes: &[u8],
        visit_borrowed_bytes: &'de [u8], visit_byte_buf: Vec<u8>
    );

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.limits.enter()?;
        let limits = self.limits;
        let value = self
            .inner
            .visit_some(LimitedDeserializer { inner: d, limits });
        limits.leave();
        value
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.limits.enter()?;
        let limits = self.limits;
        let value = self
            .inner
            .visit_newtype_struct(LimitedDeserializer { inner: d, limits });
        limits.leave();
        value
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.limits.enter()?;
        let limits = self.limits;
        let value = self.inner.visit_seq(LimitedSeq {
            inner: seq,
            limits,
            count: 0,
        });
        limits.leave();
        value
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.limits.enter()?;
        let limits = self.limits;
        let value = self.inner.visit_map(LimitedMap {
            inner: map,
            limits,
            count: 0,
        });
        limits.leave();
        value
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.limits.enter()?;
        let limits = self.limits;
        let value = self.inner.visit_enum(LimitedEnum {
            inner: data,
            limits,
        });
        limits.leave();
        value
    }
}

struct LimitedSeq<'l, A> {
    inner: A,
    limits: &'l Limits,
    count: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for LimitedSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.limits
            .admit(&mut self.count, "elements in one sequence")?;
        self.inner.next_element_seed(Limited {
            limits: self.limits,
            seed,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct LimitedMap<'l, A> {
    inner: A,
    limits: &'l Limits,
    count: usize,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for LimitedMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        self.limits.admit(&mut self.count, "entries in one map")?;
        self.inner.next_key_seed(Limited {
            limits: self.limits,
            seed,
        })
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.inner.next_value_seed(Limited {
            limits: self.limits,
            seed,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct LimitedEnum<'l, A> {
    inner: A,
    limits: &'l Limits,
}

impl<'de, 'l, A: EnumAccess<'de>> EnumAccess<'de> for LimitedEnum<'l, A> {
    type Error = A::Error;
    type Variant = LimitedVariant<'l, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), Self::Error> {
        let limits = self.limits;
        let (value, variant) = self.inner.variant_seed(Limited { limits, seed })?;
        Ok((
            value,
            LimitedVariant {
                inner: variant,
                limits,
            },
        ))
    }
}

struct LimitedVariant<'l, A> {
    inner: A,
    limits: &'l Limits,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for LimitedVariant<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.inner.newtype_variant_seed(Limited {
            limits: self.limits,
            seed,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = LimitedVisitor {
            inner: visitor,
            limits: self.limits,
        };
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = LimitedVisitor {
            inner: visitor,
            limits: self.limits,
        };
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::codec;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Tree {
        Leaf(u8),
        Node(Vec<Tree>),
    }

    fn nested(depth: usize) -> Tree {
        (0..depth).fold(Tree::Leaf(1), |t, _| Tree::Node(vec![t]))
    }

    fn encode<T: Serialize>(value: &T) -> Vec<u8> {
        let mut buf = Vec::new();
        codec::encode_into(value, &mut buf).unwrap();
        buf
    }

    #[test]
    fn values_within_the_limits_decode_unchanged() {
        let bytes = encode(&nested(10));
        let limits = Limits::new(64, 100);
        let (tree, _) = codec::decode_limited::<Tree>(&bytes, &limits).unwrap();
        assert_eq!(tree, nested(10));
        let map: std::collections::BTreeMap<String, Option<(u8, String)>> =
            [("a".to_string(), Some((1, "x".to_string())))].into();
        let (back, _) = codec::decode_limited::<
            std::collections::BTreeMap<String, Option<(u8, String)>>,
        >(&encode(&map), &limits)
        .unwrap();
        assert_eq!(back, map);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        // Written by hand: building (or dropping) such a tree would itself
        // overflow. `Node(vec![..])` is variant 1 and a length of 1.
        let mut bytes: Vec<u8> = [1u8, 1].repeat(100_000);
        bytes.extend_from_slice(&[0, 1]);
        assert_eq!(encode(&nested(2)), [1, 1, 1, 1, 0, 1]);
        let limits = Limits::new(128, 1 << 20);
        let error = codec::decode_limited::<Tree>(&bytes, &limits).unwrap_err();
        assert!(error.to_string().contains("nesting"), "{error}");
        assert!(matches!(
            limits.error(),
            Some(RemoteError::LimitExceeded { limit: 128, .. })
        ));
    }

    #[test]
    fn long_collections_are_refused() {
        let bytes = encode(&vec![0u8; 1000]);
        let limits = Limits::new(128, 999);
        assert!(codec::decode_limited::<Vec<u8>>(&bytes, &limits).is_err());
        assert!(matches!(
            limits.error(),
            Some(RemoteError::LimitExceeded { limit: 999, .. })
        ));
        // A claimed length far beyond the bytes present fails fast too.
        let mut lying = encode(&vec![(); 3]);
        lying[0] = 0xfc; // a varint saying u32::MAX-ish follows
        lying.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        let limits = Limits::new(128, 1 << 20);
        assert!(codec::decode_limited::<Vec<()>>(&lying, &limits).is_err());
    }
}
