//! `{Trait}Properties`: the snapshot of a trait's `#[property]` methods,
//! taken when a handle first crosses a connection.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::ext::IdentExt;

use super::Names;
use crate::model::Interface;

pub(crate) fn generate(model: &Interface, names: &Names) -> TokenStream {
    if !model.has_properties() {
        return TokenStream::new();
    }
    let krate = &model.krate;
    let ident = &model.ident;
    let vis = &model.vis;
    let props = &names.properties;
    let serde_path = format!("{}::__private::serde", krate.to_token_stream()).replace(' ', "");
    let trait_name = ident.unraw().to_string();
    let doc = format!(
        " The enumerable properties of a [`{trait_name}`] object, as they were when its handle \
         first reached this side (or at the last `refresh()`). Reading them costs no round trip; \
         they do not follow later changes on the owner's side."
    );
    let fields = model.properties().map(|m| {
        let name = &m.ident;
        let ty = &m.ret.ty;
        let docs = if m.docs.is_empty() {
            let doc = format!(" The `{}` property.", name.unraw());
            quote!(#[doc = #doc])
        } else {
            let docs = &m.docs;
            quote!(#(#docs)*)
        };
        quote! {
            #docs
            pub #name: #ty,
        }
    });
    let captures = model.properties().map(|m| {
        let name = &m.ident;
        quote!(#name: #ident::#name(object),)
    });
    let names_list = model.properties().map(|m| m.ident.unraw().to_string());
    let signature = format!("() -> {props}");
    quote! {
        #[doc = #doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, #krate::__private::serde::Serialize, #krate::__private::serde::Deserialize)]
        #[serde(crate = #serde_path)]
        #vis struct #props {
            #(#fields)*
        }

        impl #krate::__private::Snapshot for #props {
            const METHOD: &'static #krate::__private::Method = &#krate::__private::Method {
                interface: #trait_name,
                name: "properties",
                id: #krate::__private::SNAPSHOT_METHOD,
                signature: #signature,
                check: #krate::__private::not_checked,
                pipelines: false,
            };
        }

        impl #props {
            /// The property names, in declaration order.
            #vis const NAMES: &'static [&'static ::core::primitive::str] = &[#(#names_list),*];

            /// Reads every property of a local object now.
            #vis fn capture(object: &dyn #ident) -> Self {
                #props {
                    #(#captures)*
                }
            }
        }
    }
}
