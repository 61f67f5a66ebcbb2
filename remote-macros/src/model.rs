//! The model of a `#[remote_object]` trait: parsed from syn, validated, and
//! then the only thing the generators read.

use proc_macro2::Span;
use quote::format_ident;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::check;
use crate::fingerprint::{pretty_type, type_text, Fingerprint};

/// Names the generated proxies define themselves; a trait method may not use
/// them.
pub(crate) const RESERVED: &[&str] = &[
    "properties",
    "refresh",
    "same_object",
    "into_remote",
    "as_remote",
    "from_remote",
    "to_async",
    "to_blocking",
];

pub(crate) struct Interface {
    pub(crate) krate: syn::Path,
    pub(crate) vis: syn::Visibility,
    pub(crate) ident: syn::Ident,
    pub(crate) methods: Vec<Method>,
    pub(crate) fingerprint: u64,
}

pub(crate) struct Method {
    /// The stable wire ID: `#[remote(id = N)]`, or a hash of the name.
    pub(crate) id: u32,
    pub(crate) ident: syn::Ident,
    pub(crate) docs: Vec<syn::Attribute>,
    pub(crate) args: Vec<Arg>,
    pub(crate) ret: Ret,
    /// Marked `#[property]`: snapshotted when the handle crosses, read from
    /// the snapshot by proxies.
    pub(crate) property: bool,
    /// Declared `async fn`: served on the async runtime.
    pub(crate) is_async: bool,
    /// The ID was given with `#[remote(id = N)]`.
    pub(crate) explicit_id: bool,
    /// `#[cfg(..)]`: every item generated for the method carries them, so
    /// it exists exactly when the method does.
    pub(crate) cfgs: Vec<syn::Attribute>,
    /// `#[deprecated]`: the proxies' methods carry it, so the warning fires
    /// where the method is called.
    pub(crate) deprecated: Vec<syn::Attribute>,
}

pub(crate) struct Arg {
    pub(crate) name: syn::Ident,
    /// The type as declared in the trait.
    pub(crate) ty: syn::Type,
    pub(crate) kind: ArgKind,
}

impl Arg {
    /// The type the wire carries for this argument: its owned form.
    pub(crate) fn wire_ty(&self) -> &syn::Type {
        match &self.kind {
            ArgKind::Borrowed { owned } => owned,
            _ => &self.ty,
        }
    }

    /// Whether it is bytes (`Vec<u8>`, `&[u8]`, `&Vec<u8>`, `bytes::Bytes`,
    /// `&bytes::Bytes`): carried as one byte buffer, not a sequence of `u8`.
    pub(crate) fn is_bytes(&self) -> bool {
        check::is_bytes(self.wire_ty())
    }
}

pub(crate) enum ArgKind {
    /// An owned value, copied.
    Value,
    /// `&T` (including `&str` and `&[T]`): the wire carries the owned form,
    /// and the server lends it to the method.
    Borrowed { owned: Box<syn::Type> },
    /// A `Remote<dyn X>` at the top level: proxies accept anything that
    /// converts into it (a proxy, or a local object's `Remote`).
    Handle,
}

pub(crate) struct Ret {
    /// The declared return type (`()` when there is none).
    pub(crate) ty: syn::Type,
    pub(crate) shape: RetShape,
    /// `E` when the return type is `Result<_, E>`.
    pub(crate) error: Option<syn::Type>,
    /// Set when the value is bytes, carried as one byte buffer.
    pub(crate) bytes: Option<BytesRet>,
}

/// Where the bytes are in a return type that carries them as a buffer.
#[derive(Clone, Copy)]
pub(crate) enum BytesRet {
    /// `Vec<u8>`.
    Plain,
    /// `Option<Vec<u8>>`.
    Option,
    /// `Result<Vec<u8>, E>`.
    Result,
}

/// How a return value is presented by the proxies.
pub(crate) enum RetShape {
    /// As declared.
    Plain,
    /// `Remote<dyn X>`: arrives as X's proxy.
    Handle { iface: Box<syn::Type> },
    /// `Result<Remote<dyn X>, E>`: arrives as `Result<XProxy, E>`.
    ResultHandle {
        iface: Box<syn::Type>,
        error: Box<syn::Type>,
    },
    /// `Option<Remote<dyn X>>`: arrives as `Option<XProxy>`.
    OptionHandle { iface: Box<syn::Type> },
}

/// Collects every error so the user sees them all at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    fn spanned(&mut self, tokens: impl quote::ToTokens, msg: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

impl Method {
    /// The signature as errors show it: `(String, u32) -> Store`.
    pub(crate) fn signature_text(&self) -> String {
        let args: Vec<String> = self.args.iter().map(|a| pretty_type(&a.ty)).collect();
        format!("({}) -> {}", args.join(", "), pretty_type(&self.ret.ty))
    }
}

impl Interface {
    pub(crate) fn from_syn(
        item: &syn::ItemTrait,
        krate: syn::Path,
    ) -> Result<Interface, syn::Error> {
        let mut errors = Errors::default();
        check_trait_header(item, &mut errors);

        // The trait's identity: its name and its properties (a snapshot is
        // decoded as a whole). Methods are checked one call at a time.
        let mut fp = Fingerprint::new();
        fp.add(&item.ident.unraw().to_string());
        let mut methods: Vec<Method> = Vec::new();
        for trait_item in &item.items {
            match trait_item {
                syn::TraitItem::Fn(f) => {
                    if let Some(m) = Method::from_syn(f, &mut errors) {
                        if m.property {
                            fp.add(&m.ident.unraw().to_string());
                            fp.add(&type_text(&m.ret.ty));
                        }
                        // Two variants of one method under exclusive
                        // cfgs share a name, and so an ID.
                        let variants = |o: &Method| {
                            o.ident == m.ident && !o.cfgs.is_empty() && !m.cfgs.is_empty()
                        };
                        if let Some(other) =
                            methods.iter().find(|o| o.id == m.id && !variants(o))
                        {
                            errors.spanned(
                                &m.ident,
                                if m.explicit_id {
                                    format!("method `{}` already has id {}; each method needs its own", other.ident.unraw(), m.id)
                                } else {
                                    format!(
                                        "`{}` and `{}` hash to the same method id; give one of them its own with `#[remote(id = N)]` (N below 2147483648)",
                                        other.ident.unraw(),
                                        m.ident.unraw()
                                    )
                                },
                            );
                        }
                        methods.push(m);
                    }
                }
                syn::TraitItem::Type(t) => errors.spanned(
                    t,
                    "associated types are not supported in a #[remote_object] trait: a proxy cannot know the implementor's type; use a concrete type in the method signatures",
                ),
                syn::TraitItem::Const(c) => errors.spanned(
                    c,
                    "associated constants are not supported in a #[remote_object] trait; use a method `fn name(&self) -> T` instead",
                ),
                other => errors.spanned(
                    other,
                    "only methods can appear in a #[remote_object] trait",
                ),
            }
        }
        errors.finish()?;
        Ok(Interface {
            krate,
            vis: item.vis.clone(),
            ident: item.ident.clone(),
            methods,
            fingerprint: fp.finish(),
        })
    }

    /// The application error types, when every method returns `Result<_, E>`:
    /// then the blocking proxy implements the trait itself.
    pub(crate) fn all_result_errors(&self) -> Option<Vec<&syn::Type>> {
        self.methods.iter().map(|m| m.ret.error.as_ref()).collect()
    }

    pub(crate) fn properties(&self) -> impl Iterator<Item = &Method> {
        self.methods.iter().filter(|m| m.property)
    }

    pub(crate) fn has_properties(&self) -> bool {
        self.properties().next().is_some()
    }

    pub(crate) fn has_async(&self) -> bool {
        self.methods.iter().any(|m| m.is_async)
    }
}

fn check_trait_header(item: &syn::ItemTrait, errors: &mut Errors) {
    if !item.generics.params.is_empty() {
        errors.spanned(
            &item.generics,
            "a #[remote_object] trait cannot be generic: each side must know the concrete types to encode; write one trait per type",
        );
    }
    if let Some(w) = &item.generics.where_clause {
        errors.spanned(w, "a #[remote_object] trait cannot have a where clause");
    }
    if let Some(u) = &item.unsafety {
        errors.spanned(u, "a #[remote_object] trait cannot be `unsafe`");
    }
    if let Some(a) = &item.auto_token {
        errors.spanned(a, "a #[remote_object] trait cannot be an auto trait");
    }
    let has = |name: &str| {
        item.supertraits.iter().any(|b| match b {
            syn::TypeParamBound::Trait(t) => {
                t.path.segments.last().is_some_and(|s| s.ident == name)
            }
            _ => false,
        })
    };
    let missing: Vec<&str> = ["Send", "Sync"].into_iter().filter(|n| !has(n)).collect();
    if !missing.is_empty() {
        let span = if item.supertraits.is_empty() {
            item.ident.span()
        } else {
            item.supertraits.span()
        };
        errors.at(
            span,
            format!(
                "a #[remote_object] trait must be shareable across threads: add `{}` to its supertraits, as in `trait {}: Send + Sync {{ .. }}`",
                missing.join(" + "),
                item.ident
            ),
        );
    }
}

impl Method {
    fn from_syn(f: &syn::TraitItemFn, errors: &mut Errors) -> Option<Method> {
        let sig = &f.sig;
        let before = errors.0.is_some();
        let name = sig.ident.unraw().to_string();
        if RESERVED.contains(&name.as_str()) {
            errors.spanned(
                &sig.ident,
                format!("`{name}` is a method the generated proxies define; rename this method"),
            );
        }
        if let Some(u) = &sig.unsafety {
            errors.spanned(u, "remote methods cannot be `unsafe`");
        }
        if let Some(c) = &sig.constness {
            errors.spanned(c, "remote methods cannot be `const`");
        }
        if let Some(abi) = &sig.abi {
            errors.spanned(abi, "remote methods cannot have an `extern` ABI");
        }
        if let Some(v) = &sig.variadic {
            errors.spanned(v, "remote methods cannot be variadic");
        }
        if !sig.generics.params.is_empty() {
            errors.spanned(
                &sig.generics.params,
                "generic methods cannot be called remotely: the server must know the concrete types to decode; use concrete types (or one method per type)",
            );
        }
        if let Some(w) = &sig.generics.where_clause {
            errors.spanned(w, "remote methods cannot have a where clause");
        }

        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(syn::FnArg::Receiver(r)) => check_receiver(r, errors),
            _ => errors.spanned(
                sig,
                "a remote method needs a `&self` receiver: functions without `self` cannot be called through a proxy; make it a method of an exported factory object instead",
            ),
        }

        let mut args = Vec::new();
        for (i, input) in inputs.enumerate() {
            let syn::FnArg::Typed(pt) = input else {
                continue;
            };
            let name = match &*pt.pat {
                syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
                _ => format_ident!("__remote_arg{}", i),
            };
            if let Some(arg) = Arg::from_syn(name, &pt.ty, errors) {
                args.push(arg);
            }
        }

        let ret = Ret::from_syn(&sig.output, errors);
        if errors.0.is_some() && !before {
            return None;
        }
        let ret = ret?;
        let property = property_attr(f, &args, &ret, errors)?;
        let explicit = id_attr(f, errors)?;
        let docs = f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect();
        let cfgs: Vec<syn::Attribute> = f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg"))
            .cloned()
            .collect();
        if property && !cfgs.is_empty() {
            errors.spanned(
                &cfgs[0],
                "a #[property] cannot be under #[cfg]: the snapshot is one struct both sides decode alike; make it a plain method, or put the cfg on the whole trait",
            );
            return None;
        }
        let deprecated = f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("deprecated"))
            .cloned()
            .collect();
        Some(Method {
            id: explicit.unwrap_or_else(|| method_id(&name)),
            explicit_id: explicit.is_some(),
            cfgs,
            deprecated,
            ident: sig.ident.clone(),
            docs,
            args,
            ret,
            property,
            is_async: sig.asyncness.is_some(),
        })
    }
}

/// Whether the method is marked `#[property]`, checking that it can be one.
fn property_attr(
    f: &syn::TraitItemFn,
    args: &[Arg],
    ret: &Ret,
    errors: &mut Errors,
) -> Option<bool> {
    let Some(attr) = f.attrs.iter().find(|a| is_property(a)) else {
        return Some(false);
    };
    let mut ok = true;
    if let Some(a) = &f.sig.asyncness {
        errors.spanned(
            a,
            "a #[property] cannot be `async`: it is evaluated when the handle is sent; make it a plain `fn`, or drop `#[property]`",
        );
        ok = false;
    }
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        errors.spanned(attr, "write `#[property]` without arguments");
        ok = false;
    }
    if !args.is_empty() {
        errors.spanned(
            &f.sig.inputs,
            "a #[property] takes no arguments besides `&self`: it is a value snapshotted when the object is first sent; make it a plain method instead",
        );
        ok = false;
    }
    if let Some(tokens) = check::first_handle(&ret.ty) {
        errors.spanned(
            tokens,
            "a #[property] is a copied snapshot, so it cannot hold a `Remote` or a `Callback`; make it a plain method instead",
        );
        ok = false;
    }
    if matches!(ret.shape, RetShape::Plain) && ret.ty == syn::parse_quote!(()) {
        errors.spanned(&f.sig, "a #[property] must return a value");
        ok = false;
    }
    ok.then_some(true)
}

/// The stable wire ID of a method named `name`, as the runtime's
/// `method_id` computes it (FNV-1a, in the upper half of the range, so it
/// never meets an explicit ID). The two are checked against each other by a
/// test of the facade crate.
pub(crate) fn method_id(name: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    0x8000_0000 | (hash % 0x7fff_ffff)
}

/// The explicit ID of `#[remote(id = N)]`, if the method has one.
fn id_attr(f: &syn::TraitItemFn, errors: &mut Errors) -> Option<Option<u32>> {
    let mut id = None;
    let mut ok = true;
    for attr in f.attrs.iter().filter(|a| is_remote_attr(a)) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("id") {
                let lit: syn::LitInt = meta.value()?.parse()?;
                let n: u32 = lit.base10_parse().map_err(|_| {
                    syn::Error::new_spanned(&lit, "a method id is a number below 2147483648")
                })?;
                if n >= 0x8000_0000 {
                    return Err(syn::Error::new_spanned(
                        &lit,
                        "a method id is a number below 2147483648 (the upper half is for ids made from names)",
                    ));
                }
                if id.replace(n).is_some() {
                    return Err(meta.error("the method already has an id"));
                }
                Ok(())
            } else {
                Err(meta.error(
                    "unknown argument; write `#[remote(id = N)]` to give the method a stable id of its own",
                ))
            }
        });
        if let Err(e) = parsed {
            errors.push(e);
            ok = false;
        }
    }
    ok.then_some(id)
}

/// `#[remote(..)]` on a method, which this macro consumes.
pub(crate) fn is_remote_attr(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("remote")
}

/// `#[property]`, the marker this macro consumes.
pub(crate) fn is_property(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("property")
}

fn check_receiver(r: &syn::Receiver, errors: &mut Errors) {
    if r.colon_token.is_some() {
        errors.spanned(
            r,
            "remote methods take `&self`; typed receivers such as `self: Arc<Self>` are not supported (the object is already shared behind an `Arc`)",
        );
    } else if r.reference.is_none() {
        errors.spanned(
            r,
            "remote methods take `&self`, not `self` by value: the object stays in its process and cannot be consumed; take `&self`, and release the object by dropping its proxies",
        );
    } else if let Some(m) = &r.mutability {
        errors.spanned(
            m,
            "remote methods take `&self`, not `&mut self`: many clients may hold the object at once; take `&self` and use interior mutability (a `Mutex` or atomics)",
        );
    }
}

impl Arg {
    fn from_syn(name: syn::Ident, ty: &syn::Type, errors: &mut Errors) -> Option<Arg> {
        if let Some((tokens, instead)) = check::first_trait_object(ty) {
            errors.spanned(tokens, format!("write {instead}"));
            return None;
        }
        if let syn::Type::Reference(r) = ty {
            if r.mutability.is_some() {
                errors.spanned(
                    r,
                    "`&mut` arguments cannot be passed to another process: take the value (or `&T`) and return the changed value",
                );
                return None;
            }
            if let Some((tokens, what)) = check::first_borrow_or_impl(&r.elem) {
                errors.spanned(
                    tokens,
                    format!("a {what} inside a borrowed argument cannot be decoded on the other side; use owned types inside it (e.g. `&[String]` instead of `&[&str]`)"),
                );
                return None;
            }
            let owned: syn::Type = match &*r.elem {
                syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => {
                    syn::parse_quote!(::std::string::String)
                }
                syn::Type::Slice(s) => {
                    let elem = &s.elem;
                    syn::parse_quote!(::std::vec::Vec<#elem>)
                }
                other => other.clone(),
            };
            return Some(Arg {
                name,
                ty: ty.clone(),
                kind: ArgKind::Borrowed {
                    owned: Box::new(owned),
                },
            });
        }
        if let Some((tokens, what)) = check::first_borrow_or_impl(ty) {
            let hint = if what == "impl Trait" {
                "an `impl Trait` argument makes the method generic, and generic methods cannot be called remotely; use a concrete type, or `Remote<dyn Trait>` to pass an object by reference"
            } else {
                "borrowed data nested inside an argument cannot be decoded on the other side; use owned types (e.g. `Vec<String>` instead of `Vec<&str>`)"
            };
            errors.spanned(
                tokens,
                format!("unsupported {what} in a remote method argument: {hint}"),
            );
            return None;
        }
        let kind = if check::remote_handle(ty).is_some() {
            ArgKind::Handle
        } else {
            ArgKind::Value
        };
        Some(Arg {
            name,
            ty: ty.clone(),
            kind,
        })
    }
}

impl Ret {
    fn from_syn(output: &syn::ReturnType, errors: &mut Errors) -> Option<Ret> {
        let ty: syn::Type = match output {
            syn::ReturnType::Default => syn::parse_quote!(()),
            syn::ReturnType::Type(_, ty) => (**ty).clone(),
        };
        if let Some((tokens, instead)) = check::first_trait_object(&ty) {
            errors.spanned(tokens, format!("write {instead}"));
            return None;
        }
        if let Some((tokens, what)) = check::first_borrow_or_impl(&ty) {
            let hint = match what {
                "impl Trait" => "the caller must know the concrete type to decode it; return a concrete type, or `Remote<dyn Trait>` to return an object by reference",
                "lifetime" => "a reply is decoded into a value the caller owns, which borrows nothing; drop the lifetime (e.g. `String` instead of `Cow<'static, str>`)",
                _ => "a reply is decoded into a value the caller owns; return an owned type (e.g. `String` instead of `&str`, `Vec<T>` instead of `&[T]`)",
            };
            errors.spanned(
                tokens,
                format!("unsupported {what} in a remote method's return type: {hint}"),
            );
            return None;
        }
        let error = check::result_parts(&ty).map(|(_, e)| e.clone());
        let shape = if let Some(iface) = check::remote_handle(&ty) {
            RetShape::Handle {
                iface: Box::new(iface.clone()),
            }
        } else if let Some((ok, err)) = check::result_parts(&ty) {
            match check::remote_handle(ok) {
                Some(iface) => RetShape::ResultHandle {
                    iface: Box::new(iface.clone()),
                    error: Box::new(err.clone()),
                },
                None => RetShape::Plain,
            }
        } else if let Some(iface) = check::option_inner(&ty).and_then(check::remote_handle) {
            RetShape::OptionHandle {
                iface: Box::new(iface.clone()),
            }
        } else {
            RetShape::Plain
        };
        let bytes = if check::is_bytes(&ty) {
            Some(BytesRet::Plain)
        } else if check::option_inner(&ty).is_some_and(check::is_bytes) {
            Some(BytesRet::Option)
        } else if check::result_parts(&ty).is_some_and(|(ok, _)| check::is_bytes(ok)) {
            Some(BytesRet::Result)
        } else {
            None
        };
        Some(Ret {
            ty,
            shape,
            error,
            bytes,
        })
    }
}
