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

use crate::model::Interface;

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
