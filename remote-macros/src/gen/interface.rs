//! `impl Interface for dyn Trait` and `impl FromLocal<X> for dyn Trait`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;

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
            let ty = wire::arg_ty(krate, a);
            quote!(#krate::__private::shape_of::<#ty>)
        });
        let ret_shape = {
            let ty = wire::ret_ty(krate, m);
            quote!(#krate::__private::shape_of::<#ty>)
        };
        let cfgs = super::cfgs(m);
        let konst = super::method_const(m);
        // One object returned: async calls are kept for pipelining.
        let pipelines = matches!(
            m.ret.shape,
            crate::model::RetShape::Handle { .. } | crate::model::RetShape::ResultHandle { .. }
        );
        quote! {
            #cfgs
            #[doc(hidden)]
            #[allow(non_upper_case_globals)]
            const #konst: #krate::__private::Method = #krate::__private::Method {
                interface: #name,
                name: #method_name,
                id: #id,
                signature: #signature,
                pipelines: #pipelines,
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
    let where_bounds = super::where_wire(model);
    // The one way from the trait (its `Interface` impl, which holds for
    // every trait, so handles of traits that name each other resolve
    // without a cycle) into the code that encodes and decodes its types
    // (impls bounded by `Wire` on each of them). Both crossings are spanned
    // alike, so a type that cannot travel is one error, here.
    let gate = quote_spanned!(ident.span()=> #dispatcher::__remote_gate());
    quote! {
        impl #dispatcher #where_bounds {
            #(#methods)*
        }

        impl #dispatcher {
            #[doc(hidden)]
            #[allow(clippy::type_complexity)]
            fn __remote_gate() -> (
                fn(#krate::__private::Arc<dyn #ident>) -> #krate::__private::Arc<dyn #krate::__private::Dispatch>,
                fn() -> ::std::vec::Vec<&'static #krate::__private::Method>,
            )
            #where_bounds
            {
                (
                    |object| -> #krate::__private::Arc<dyn #krate::__private::Dispatch> {
                        #krate::__private::Arc::new(#dispatcher::new(object))
                    },
                    || {
                        let mut __remote_methods = ::std::vec::Vec::new();
                        #(#listed)*
                        __remote_methods
                    },
                )
            }
        }

        impl #krate::__private::Interface for dyn #ident {
            const NAME: &'static ::core::primitive::str = #name;
            const FINGERPRINT: ::core::primitive::u64 = #fingerprint;
            fn methods() -> ::std::vec::Vec<&'static #krate::__private::Method> {
                (#gate.1)()
            }
            type Proxy = #proxy;
            type AsyncProxy = #async_proxy;
            fn into_dispatch(
                object: #krate::__private::Arc<Self>,
            ) -> #krate::__private::Arc<dyn #krate::__private::Dispatch> {
                (#gate.0)(object)
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
