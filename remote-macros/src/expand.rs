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
    match attr::parse(args).and_then(|args| Interface::from_syn(&item, args.krate)) {
        Ok(model) => {
            let generated = gen::generate(&model);
            quote!(#item #generated)
        }
        // Keep the trait itself so the rest of the user's code still resolves.
        Err(e) => {
            let err = e.into_compile_error();
            quote!(#item #err)
        }
    }
}
