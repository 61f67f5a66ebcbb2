//! The trait fingerprint: a 64-bit FNV-1a hash of the trait's name and of each
//! method's name, argument types and return type, in order. Two builds agree
//! on it exactly when they were compiled from the same signatures.

pub(crate) struct Fingerprint(u64);

impl Fingerprint {
    pub(crate) fn new() -> Self {
        Fingerprint(0xcbf2_9ce4_8422_2325)
    }

    /// Adds one field; fields are separated so that ("ab","c") != ("a","bc").
    pub(crate) fn add(&mut self, field: &str) {
        for b in field.bytes().chain(std::iter::once(0xff)) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// Spacing-independent text of a type, as the fingerprint sees it.
pub(crate) fn type_text(ty: &syn::Type) -> String {
    quote::quote!(#ty).to_string().replace(' ', "")
}

/// A type as a user would write it: `Vec<u8>`, `&str`, `Remote<dyn Host>`,
/// `Result<u64, HostError>`. For error messages.
pub(crate) fn pretty_type(ty: &syn::Type) -> String {
    let raw = quote::quote!(#ty).to_string();
    let mut out = String::with_capacity(raw.len());
    let tokens: Vec<&str> = raw.split(' ').collect();
    for (i, tok) in tokens.iter().enumerate() {
        let prev = if i == 0 { None } else { Some(tokens[i - 1]) };
        let tight = match prev {
            None => true,
            Some(p) => {
                matches!(*tok, "<" | ">" | "," | "::" | ")" | "]" | ";")
                    || matches!(p, "<" | "::" | "&" | "(" | "[" | "'")
            }
        };
        if !tight {
            out.push(' ');
        }
        out.push_str(tok);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(fields: &[&str]) -> u64 {
        let mut f = Fingerprint::new();
        fields.iter().for_each(|s| f.add(s));
        f.finish()
    }

    #[test]
    fn field_boundaries_matter() {
        assert_ne!(of(&["ab", "c"]), of(&["a", "bc"]));
    }

    #[test]
    fn is_stable() {
        // FNV-1a of the empty input with our separator byte.
        assert_eq!(of(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(of(&["add"]), of(&["add"]));
        assert_ne!(of(&["add", "i64"]), of(&["add", "i32"]));
    }

    #[test]
    fn pretty_types_read_as_written() {
        let cases: [(syn::Type, &str); 6] = [
            (syn::parse_quote!(Vec<u8>), "Vec<u8>"),
            (syn::parse_quote!(&str), "&str"),
            (syn::parse_quote!(Remote<dyn Host>), "Remote<dyn Host>"),
            (
                syn::parse_quote!(Result<u64, HostError>),
                "Result<u64, HostError>",
            ),
            (
                syn::parse_quote!(std::collections::HashMap<String, (u8, u8)>),
                "std::collections::HashMap<String, (u8, u8)>",
            ),
            (syn::parse_quote!(&'static [u8; 4]), "&'static [u8; 4]"),
        ];
        for (ty, want) in cases {
            assert_eq!(pretty_type(&ty), want);
        }
    }

    #[test]
    fn type_text_ignores_spacing() {
        let a: syn::Type = syn::parse_quote!(Vec<u8>);
        let b: syn::Type = syn::parse_quote!(Vec<u8>);
        assert_eq!(type_text(&a), type_text(&b));
    }
}
