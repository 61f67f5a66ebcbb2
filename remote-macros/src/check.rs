//! Small syntactic checks on types, shared by the model.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit::Visit;

/// The first token in `ty` that cannot cross a process boundary as written:
/// a reference, a lifetime, or `impl Trait`.
pub(crate) fn first_borrow_or_impl(ty: &syn::Type) -> Option<(TokenStream, &'static str)> {
    struct Finder(Option<(TokenStream, &'static str)>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
            if self.0.is_none() {
                self.0 = Some((r.to_token_stream(), "reference"));
            }
        }
        fn visit_type_impl_trait(&mut self, i: &'ast syn::TypeImplTrait) {
            if self.0.is_none() {
                self.0 = Some((i.to_token_stream(), "impl Trait"));
            }
        }
        fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
            if self.0.is_none() {
                self.0 = Some((l.to_token_stream(), "lifetime"));
            }
        }
    }
    let mut f = Finder(None);
    f.visit_type(ty);
    f.0
}

/// The first trait object in `ty` outside `Remote<..>` and `Callback<..>`
/// (`Box<dyn Job>`, `Arc<dyn Fn(i32) -> i32>`, `&dyn X`), with the tokens to
/// point at and what to write instead.
pub(crate) fn first_trait_object(ty: &syn::Type) -> Option<(TokenStream, String)> {
    struct Finder(Option<(TokenStream, String)>);
    impl Finder {
        fn found(&mut self, tokens: TokenStream, object: &syn::TypeTraitObject) {
            if self.0.is_none() {
                self.0 = Some((tokens, instead(object)));
            }
        }
    }
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
            let Some(last) = p.path.segments.last() else {
                return;
            };
            if last.ident == "Remote" || last.ident == "Callback" {
                return;
            }
            if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                let objects: Vec<&syn::TypeTraitObject> = args
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        syn::GenericArgument::Type(syn::Type::TraitObject(o)) => Some(o),
                        _ => None,
                    })
                    .collect();
                if let [object] = objects.as_slice() {
                    if ["Box", "Arc", "Rc"].iter().any(|w| last.ident == w) {
                        self.found(p.to_token_stream(), object);
                        return;
                    }
                }
            }
            syn::visit::visit_type_path(self, p);
        }
        fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
            if let syn::Type::TraitObject(object) = &*r.elem {
                self.found(r.to_token_stream(), object);
            } else {
                syn::visit::visit_type_reference(self, r);
            }
        }
        fn visit_type_trait_object(&mut self, o: &'ast syn::TypeTraitObject) {
            self.found(o.to_token_stream(), o);
        }
    }
    let mut f = Finder(None);
    f.visit_type(ty);
    f.0
}

/// What to write instead of a trait object: `Callback<(A, B), R>` for a
/// closure type, `Remote<dyn X>` for any other trait.
fn instead(object: &syn::TypeTraitObject) -> String {
    let first = object.bounds.iter().find_map(|b| match b {
        syn::TypeParamBound::Trait(t) => t.path.segments.last(),
        _ => None,
    });
    let Some(first) = first else {
        return "`Remote<dyn YourTrait>`".to_string();
    };
    let is_closure = ["Fn", "FnMut", "FnOnce"].iter().any(|f| first.ident == f);
    match (&first.arguments, is_closure) {
        (syn::PathArguments::Parenthesized(args), true) => {
            let inputs: Vec<String> = args
                .inputs
                .iter()
                .map(crate::fingerprint::pretty_type)
                .collect();
            let tuple = match inputs.len() {
                0 => "()".to_string(),
                1 => format!("({},)", inputs[0]),
                _ => format!("({})", inputs.join(", ")),
            };
            let callback = match &args.output {
                syn::ReturnType::Default => format!("Callback<{tuple}>"),
                syn::ReturnType::Type(_, r) => {
                    format!("Callback<{tuple}, {}>", crate::fingerprint::pretty_type(r))
                }
            };
            format!(
                "`{callback}`: a closure cannot be copied to another process, but a callback can be called back in this one"
            )
        }
        _ => format!(
            "`Remote<dyn {}>`: a trait object cannot be copied to another process, but a remote object's proxy can be sent (`{}` needs `#[remote_object]`)",
            first.ident, first.ident
        ),
    }
}

/// The first `Remote<..>` or `Callback<..>` anywhere in `ty`.
pub(crate) fn first_handle(ty: &syn::Type) -> Option<TokenStream> {
    struct Finder(Option<TokenStream>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
            let named = p
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "Remote" || s.ident == "Callback");
            if named && self.0.is_none() {
                self.0 = Some(p.to_token_stream());
            }
            syn::visit::visit_type_path(self, p);
        }
    }
    let mut f = Finder(None);
    f.visit_type(ty);
    f.0
}

/// If `ty` is `Remote<dyn X>` (by its last path segment), returns `dyn X`.
pub(crate) fn remote_handle(ty: &syn::Type) -> Option<&syn::Type> {
    let inner = single_generic(ty, "Remote")?;
    matches!(inner, syn::Type::TraitObject(_)).then_some(inner)
}

/// If `ty` is `Result<T, E>`, returns `(T, E)`.
pub(crate) fn result_parts(ty: &syn::Type) -> Option<(&syn::Type, &syn::Type)> {
    let args = generic_args(ty, "Result")?;
    match args.as_slice() {
        [ok, err] => Some((ok, err)),
        _ => None,
    }
}

/// If `ty` is `Option<T>`, returns `T`.
pub(crate) fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    single_generic(ty, "Option")
}

/// Whether `ty` is `Vec<u8>` (by its last path segment).
pub(crate) fn is_byte_vec(ty: &syn::Type) -> bool {
    matches!(
        single_generic(ty, "Vec"),
        Some(syn::Type::Path(p)) if p.qself.is_none() && p.path.is_ident("u8")
    )
}

/// `bytes::Bytes`, written `Bytes`, `bytes::Bytes` or `::bytes::Bytes` (a
/// type of your own named `Bytes` can be written `crate::Bytes` to be
/// carried as any other type).
pub(crate) fn is_bytes_crate(ty: &syn::Type) -> bool {
    let syn::Type::Path(p) = ty else { return false };
    if p.qself.is_some() || p.path.segments.iter().any(|s| !s.arguments.is_none()) {
        return false;
    }
    let names: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    matches!(names.as_slice(), [b] if b == "Bytes")
        || matches!(names.as_slice(), [c, b] if c == "bytes" && b == "Bytes")
}

/// Bytes the macro carries as one byte buffer: `Vec<u8>` or `bytes::Bytes`.
pub(crate) fn is_bytes(ty: &syn::Type) -> bool {
    is_byte_vec(ty) || is_bytes_crate(ty)
}

fn single_generic<'a>(ty: &'a syn::Type, name: &str) -> Option<&'a syn::Type> {
    match generic_args(ty, name)?.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

fn generic_args<'a>(ty: &'a syn::Type, name: &str) -> Option<Vec<&'a syn::Type>> {
    let syn::Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args
        .iter()
        .map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn finds_nested_borrows() {
        let t: syn::Type = parse_quote!(Vec<&str>);
        assert_eq!(first_borrow_or_impl(&t).map(|x| x.1), Some("reference"));
        assert_eq!(first_borrow_or_impl(&t).unwrap().0.to_string(), "& str");
        let t: syn::Type = parse_quote!(Option<impl Fn()>);
        assert_eq!(first_borrow_or_impl(&t).map(|x| x.1), Some("impl Trait"));
        let t: syn::Type = parse_quote!(Vec<(u8, String)>);
        assert!(first_borrow_or_impl(&t).is_none());
    }

    #[test]
    fn recognises_handles_results_and_options() {
        let t: syn::Type = parse_quote!(remote::Remote<dyn Counter>);
        assert!(remote_handle(&t).is_some());
        let t: syn::Type = parse_quote!(Remote<Counter>);
        assert!(remote_handle(&t).is_none());
        let t: syn::Type = parse_quote!(Result<u8, MyError>);
        assert!(result_parts(&t).is_some());
        let t: syn::Type = parse_quote!(io::Result<u8>);
        assert!(result_parts(&t).is_none());
        let t: syn::Type = parse_quote!(Option<Remote<dyn X>>);
        assert!(option_inner(&t).and_then(remote_handle).is_some());
    }

    #[test]
    fn recognises_byte_vectors() {
        let t: syn::Type = parse_quote!(::std::vec::Vec<u8>);
        assert!(is_byte_vec(&t));
        let t: syn::Type = parse_quote!(Vec<i8>);
        assert!(!is_byte_vec(&t));
        let t: syn::Type = parse_quote!(Vec<Vec<u8>>);
        assert!(!is_byte_vec(&t));
    }
}
