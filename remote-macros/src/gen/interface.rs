//! `impl Interface for dyn Trait` and `impl FromLocal<X> for dyn Trait`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use super::{wire, Names};
use crate::model::Interface;

pub(crate) fn generate(model: &Interface, names: &Names) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.ident;
    let name = ident.unraw().to_string();
    let fingerprint = syn::LitInt::new(
        &format!("{:#018x}u64", model.fingerprint),
        proc_macro2::Span::call_site(),
    );
    let Names {
        proxy,
        async_proxy,
        dispatcher,
        ..
    } = names;
    let methods = model.methods.iter().map(|m| {
        let method_name = m.ident.unraw().to_string();
        let id = syn::LitInt::new(
            &format!("{:#010x}u32", m.id),
            proc_macro2::Span::call_site(),
        );
        let signature = m.signature_text();
        // The shapes of what travels: the wire form of each argument, then
        // of the return value (see the runtime's `shape` module).
        let arg_shapes = m.args.iter().map(|a| {
            if a.is_bytes() {
                let ty = wire::arg_ty(krate, a);
                quote!(#krate::__private::shape_of::<#ty>)
            } else {
                let ty = a.wire_ty();
                // Spanned as the dispatcher's check of the same type, so
                // a missing derive is one error, not two.
                quote_spanned!(a.ty.span()=> #krate::__private::assert_arg::<#ty>())
            }
        });
        let ret_shape = if m.ret.bytes.is_some() {
            let ty = wire::ret_ty(krate, m);
            quote!(#krate::__private::shape_of::<#ty>)
        } else {
            let ty = &m.ret.ty;
            quote_spanned!(ty.span()=> #krate::__private::assert_ret::<#ty>())
        };
        let cfgs = super::cfgs(m);
        let konst = super::method_const(m);
        quote! {
            #cfgs
            #[doc(hidden)]
            #[allow(non_upper_case_globals)]
            const #konst: #krate::__private::Method = #krate::__private::Method {
                interface: #name,
                name: #method_name,
                id: #id,
                signature: #signature,
                check: || {
                    static CHECK: #krate::__private::OnceLock<::core::primitive::u32> =
                        #krate::__private::OnceLock::new();
                    *CHECK.get_or_init(|| {
                        #krate::__private::signature_check(&[
                            #(#arg_shapes,)*
                            #ret_shape,
                        ])
                    })
                },
            };
        }
    });
    let listed = model.methods.iter().map(|m| {
        let cfgs = super::cfgs(m);
        let r = super::method_ref(names, m);
        quote!(#cfgs __remote_methods.push(#r);)
    });
    quote! {
        impl #dispatcher {
            #(#methods)*
        }

        impl #krate::__private::Interface for dyn #ident {
            const NAME: &'static ::core::primitive::str = #name;
            const FINGERPRINT: ::core::primitive::u64 = #fingerprint;
            fn methods() -> ::std::vec::Vec<&'static #krate::__private::Method> {
                let mut __remote_methods = ::std::vec::Vec::new();
                #(#listed)*
                __remote_methods
            }
            type Proxy = #proxy;
            type AsyncProxy = #async_proxy;
            fn into_dispatch(
                object: #krate::__private::Arc<Self>,
            ) -> #krate::__private::Arc<dyn #krate::__private::Dispatch> {
                #krate::__private::Arc::new(#dispatcher::new(object))
            }
            fn from_dispatch(
                object: &dyn #krate::__private::Dispatch,
            ) -> #krate::__private::Option<#krate::__private::Arc<Self>> {
                #krate::__private::Option::map(
                    #krate::__private::Dispatch::as_any(object).downcast_ref::<#dispatcher>(),
                    |d| #krate::__private::Clone::clone(d.object()),
                )
            }
        }

        impl<__RemoteT: #ident + 'static> #krate::__private::FromLocal<__RemoteT> for dyn #ident {
            fn from_local(object: #krate::__private::Arc<__RemoteT>) -> #krate::__private::Arc<Self> {
                object
            }
        }
    }
}
