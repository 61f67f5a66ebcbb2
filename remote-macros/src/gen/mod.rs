//! Code generation: one generator per emitted item, each reading only the
//! model.

mod dispatcher;
mod interface;
mod properties;
mod proxy;
mod trait_impl;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;

use crate::model::{BytesRet, Interface, Method};

/// Generated item names for one trait.
pub(crate) struct Names {
    pub(crate) proxy: syn::Ident,
    pub(crate) async_proxy: syn::Ident,
    pub(crate) dispatcher: syn::Ident,
    pub(crate) properties: syn::Ident,
}

impl Names {
    fn of(model: &Interface) -> Names {
        let base = model.ident.unraw();
        Names {
            proxy: format_ident!("{}Proxy", base),
            async_proxy: format_ident!("{}AsyncProxy", base),
            dispatcher: format_ident!("{}Dispatcher", base),
            properties: format_ident!("{}Properties", base),
        }
    }
}

/// The method's `Method` constant, as a `&'static` reference: every
/// generator that sends or serves it names it so.
pub(crate) fn method_ref(names: &Names, m: &Method) -> TokenStream {
    let dispatcher = &names.dispatcher;
    let konst = method_const(m);
    quote!(&#dispatcher::#konst)
}

/// The name of the method's `Method` constant (an associated constant of
/// the dispatcher).
pub(crate) fn method_const(m: &Method) -> syn::Ident {
    format_ident!("__REMOTE_METHOD_{}", m.ident.unraw())
}

/// The method's `#[cfg]` attributes, for each item generated for it.
pub(crate) fn cfgs(m: &Method) -> TokenStream {
    let cfgs = &m.cfgs;
    quote!(#(#cfgs)*)
}

/// The types that travel (each argument's wire form and each return type),
/// once each.
fn travelling(model: &Interface) -> Vec<(&syn::Type, proc_macro2::Span)> {
    use syn::spanned::Spanned;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    // A method under `#[cfg]` is left out: a where clause cannot carry a
    // cfg, and its types may not exist in this build. Its uses then need
    // the real impls, as any code does.
    for m in model.methods.iter().filter(|m| m.cfgs.is_empty()) {
        let args = m.args.iter().map(|a| (a.wire_ty(), a.ty.span()));
        for (ty, span) in args.chain(std::iter::once((&m.ret.ty, m.ret.ty.span()))) {
            if seen.insert(quote!(#ty).to_string()) {
                out.push((ty, span));
            }
        }
    }
    out
}

/// `where` predicates saying that every type that travels can, each spanned
/// on the type: every generated impl that encodes or decodes them carries
/// them, so when one cannot, those impls do not apply (the bound is
/// higher-ranked, so it is not checked where it is written), and the one
/// error is where the trait's `Interface` impl crosses into them.
pub(crate) fn wire_bounds(model: &Interface) -> TokenStream {
    use quote::quote_spanned;
    let krate = &model.krate;
    let bounds = travelling(model)
        .into_iter()
        .map(|(ty, span)| quote_spanned!(span=> for<'__remote> #ty: #krate::__private::Wire,));
    quote!(#(#bounds)*)
}

/// `where ..` of [`wire_bounds`], or nothing.
pub(crate) fn where_wire(model: &Interface) -> TokenStream {
    let bounds = wire_bounds(model);
    if bounds.is_empty() {
        bounds
    } else {
        quote!(where #bounds)
    }
}

pub(crate) fn generate(model: &Interface) -> TokenStream {
    let names = Names::of(model);
    let interface = interface::generate(model, &names);
    let dispatcher = dispatcher::generate(model, &names);
    let proxy = proxy::generate(model, &names, proxy::Flavor::Blocking);
    let async_proxy = proxy::generate(model, &names, proxy::Flavor::Async);
    let trait_impl = trait_impl::generate(model, &names);
    let properties = properties::generate(model, &names);
    quote! {
        #interface
        #properties
        #dispatcher
        #proxy
        #async_proxy
        #trait_impl
    }
}

/// How a method's arguments and return value travel: bytes (`Vec<u8>`,
/// `&[u8]`) as one byte buffer, everything else as declared. Shared by
/// every generator that sends or serves a call.
pub(crate) mod wire {
    use super::*;

    /// The argument tuple a caller encodes, by reference. An owned
    /// `Vec<u8>` is moved into it (a long one then leaves from its own
    /// allocation, never copied).
    pub(crate) fn args(krate: &syn::Path, m: &Method) -> TokenStream {
        let items = m.args.iter().map(|a| {
            let n = &a.name;
            if a.is_bytes() && matches!(a.kind, crate::model::ArgKind::Value) {
                quote!(&<#krate::__private::OwnedBytes as #krate::__private::From<_>>::from(#n))
            } else if a.is_bytes() {
                quote!(&#krate::__private::AsBytes(::core::convert::AsRef::<[::core::primitive::u8]>::as_ref(&#n)))
            } else {
                quote!(&#n)
            }
        });
        quote!(&(#(#items,)*))
    }

    /// The type an argument is decoded as on the serving side.
    pub(crate) fn arg_ty(krate: &syn::Path, a: &crate::model::Arg) -> TokenStream {
        if a.is_bytes() {
            quote!(#krate::__private::ByteBuf)
        } else {
            let ty = a.wire_ty();
            quote!(#ty)
        }
    }

    /// Turns decoded argument `a` (of [`arg_ty`]) into its owned form
    /// (`Vec<u8>` or `bytes::Bytes`, without a copy).
    pub(crate) fn arg_unwrap(krate: &syn::Path, a: &crate::model::Arg) -> TokenStream {
        let n = &a.name;
        if a.is_bytes() {
            let ty = a.wire_ty();
            quote!(let #n: #ty = <#ty as #krate::__private::FromWire<#krate::__private::ByteBuf>>::from_wire(#n);)
        } else {
            TokenStream::new()
        }
    }

    /// The type the return value travels as.
    pub(crate) fn ret_ty(krate: &syn::Path, m: &Method) -> TokenStream {
        let buf = quote!(#krate::__private::ByteBuf);
        match m.ret.bytes {
            Some(BytesRet::Plain) => buf,
            Some(BytesRet::Option) => quote!(#krate::__private::Option<#buf>),
            Some(BytesRet::Result) => {
                let e = m.ret.error.as_ref().expect("a Result has an error type");
                quote!(#krate::__private::Result<#buf, #e>)
            }
            None => {
                let ty = &m.ret.ty;
                quote!(#ty)
            }
        }
    }

    /// Return value `v` (of the declared type), owned, as it is encoded:
    /// bytes move into it (a long value then leaves from its own
    /// allocation, never copied).
    pub(crate) fn ret_owned(krate: &syn::Path, m: &Method, v: TokenStream) -> TokenStream {
        let buf = quote!(<#krate::__private::OwnedBytes as #krate::__private::From<_>>::from);
        match m.ret.bytes {
            Some(BytesRet::Plain) => quote!(#buf(#v)),
            Some(BytesRet::Option) => quote!(#krate::__private::Option::map(#v, #buf)),
            Some(BytesRet::Result) => quote!(#krate::__private::Result::map(#v, #buf)),
            None => v,
        }
    }

    /// Decoded return value `v` (of [`ret_ty`]) as the declared type.
    pub(crate) fn ret_unwrap(krate: &syn::Path, m: &Method, v: TokenStream) -> TokenStream {
        if m.ret.bytes.is_some() {
            let ty = &m.ret.ty;
            let wire = ret_ty(krate, m);
            quote!(<#ty as #krate::__private::FromWire<#wire>>::from_wire(#v))
        } else {
            v
        }
    }
}
