//! `impl Interface for dyn Trait` and `impl FromLocal<X> for dyn Trait`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;

use super::Names;
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
    quote! {
        impl #krate::__private::Interface for dyn #ident {
            const NAME: &'static ::core::primitive::str = #name;
            const FINGERPRINT: ::core::primitive::u64 = #fingerprint;
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
