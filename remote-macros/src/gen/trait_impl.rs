//! `impl Trait for {Trait}Proxy`, when every method returns `Result<_, E>`:
//! a transport failure becomes `E::from(RemoteError)`, so code written against
//! `dyn Trait` runs unchanged on a local object or a proxy.

use proc_macro2::TokenStream;
use quote::quote;

use super::{wire, Names};
use crate::model::Interface;

pub(crate) fn generate(model: &Interface, names: &Names) -> TokenStream {
    let Some(errors) = model.all_result_errors() else {
        return TokenStream::new();
    };
    if model.methods.is_empty() {
        return TokenStream::new();
    }
    let krate = &model.krate;
    let ident = &model.ident;
    let proxy = &names.proxy;
    let props = &names.properties;
    let methods = model.methods.iter().map(|m| {
        let name = &m.ident;
        if m.property {
            let wire = &m.ret.ty;
            return quote! {
                #[track_caller]
                fn #name(&self) -> #wire {
                    match self.remote.target() {
                        #krate::__private::Target::Local(__remote_object) => #ident::#name(&**__remote_object),
                        #krate::__private::Target::Remote(__remote_ref) => {
                            match __remote_ref.properties_blocking::<#props>() {
                                #krate::__private::Ok(__remote_props) => {
                                    #krate::__private::Clone::clone(&__remote_props.#name)
                                }
                                #krate::__private::Err(__remote_error) => {
                                    #krate::__private::Err(#krate::__private::From::from(__remote_error))
                                }
                            }
                        }
                    }
                }
            };
        }
        let method_info = super::method_ref(names, m);
        let cfgs = super::cfgs(m);
        let declared = &m.ret.ty;
        let wire = wire::ret_ty(krate, m);
        let args = wire::args(krate, m);
        let arrived = wire::ret_unwrap(krate, m, quote!(__remote_value));
        let names: Vec<_> = m.args.iter().map(|a| &a.name).collect();
        let params = m.args.iter().map(|a| {
            let n = &a.name;
            let ty = &a.ty;
            quote!(#n: #ty)
        });
        if m.is_async {
            return quote! {
                #cfgs
                async fn #name(&self, #(#params),*) -> #declared {
                    match self.remote.target() {
                        #krate::__private::Target::Local(__remote_object) => {
                            #ident::#name(&**__remote_object, #(#names),*).await
                        }
                        #krate::__private::Target::Remote(__remote_ref) => {
                            let __remote_call = __remote_ref
                                .call_async::<_, #wire, #declared>(#method_info, #args, |__remote_value| #arrived);
                            match __remote_call.await {
                                #krate::__private::Ok(__remote_value) => __remote_value,
                                #krate::__private::Err(__remote_error) => {
                                    #krate::__private::Err(#krate::__private::From::from(__remote_error))
                                }
                            }
                        }
                    }
                }
            };
        }
        quote! {
            #cfgs
            #[track_caller]
            fn #name(&self, #(#params),*) -> #declared {
                match self.remote.target() {
                    #krate::__private::Target::Local(__remote_object) => {
                        #ident::#name(&**__remote_object, #(#names),*)
                    }
                    #krate::__private::Target::Remote(__remote_ref) => {
                        match __remote_ref.call_blocking::<_, #wire>(#method_info, #args) {
                            #krate::__private::Ok(__remote_value) => #arrived,
                            #krate::__private::Err(__remote_error) => {
                                #krate::__private::Err(#krate::__private::From::from(__remote_error))
                            }
                        }
                    }
                }
            }
        }
    });
    // The bound is written under a binder so that, when some `E` lacks
    // `From<RemoteError>`, the impl merely does not apply instead of failing
    // to compile.
    let wire_bounds = super::wire_bounds(model);
    let async_attr = if model.has_async() {
        quote!(#[#krate::__private::async_trait])
    } else {
        quote!()
    };
    quote! {
        #async_attr
        #[allow(deprecated)]
        impl #ident for #proxy
        where
            #(for<'__remote> #errors: #krate::__private::From<#krate::RemoteError>,)*
            #wire_bounds
        {
            #(#methods)*
        }
    }
}
