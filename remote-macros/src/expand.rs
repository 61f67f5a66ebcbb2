//! Parse, validate, generate.

use proc_macro2::TokenStream;
use quote::quote;

use crate::{attr, gen, model::Interface};

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: syn::ItemTrait = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = syn::Error::new_spanned(
                &input,
                "#[remote_object] goes on a trait: `#[remote_object] pub trait Name: Send + Sync { fn method(&self, ..) -> T; }`",
            )
            .into_compile_error();
            return quote!(#input #err);
        }
    };
    let model = attr::parse(args).and_then(|args| Interface::from_syn(&item, args.krate));
    // The trait is emitted as written, less the `#[property]` markers this
    // macro consumes; on error too, so the rest of the user's code resolves.
    let mut item = item;
    for trait_item in &mut item.items {
        if let syn::TraitItem::Fn(f) = trait_item {
            f.attrs
                .retain(|a| !crate::model::is_property(a) && !crate::model::is_remote_attr(a));
        }
    }
    match model {
        Ok(model) => {
            let generated = gen::generate(&model);
            // `async fn` methods become boxed futures, so the trait stays
            // usable as `dyn Trait`; implement it with the same attribute.
            // rustc's error for an impl without the attribute (E0195,
            // "lifetime parameters ... do not match") cannot be replaced,
            // so the trait's own documentation says it first.
            let async_attr = if model.has_async() {
                let krate = &model.krate;
                let doc = format!(
                    " **Implement it with `#[remote::async_trait]` on the `impl`**: `{}` has `async fn` \
                     methods, which `#[remote_object]` makes callable through `dyn {}` with async-trait. \
                     An `impl` without the attribute fails with E0195, \"lifetime parameters or bounds \
                     on method do not match the trait declaration\".",
                    model.ident, model.ident
                );
                quote!(#[doc = ""] #[doc = #doc] #[#krate::__private::async_trait])
            } else {
                quote!()
            };
            quote!(#async_attr #item #generated)
        }
        Err(e) => {
            let err = e.into_compile_error();
            quote!(#item #err)
        }
    }
}
