//! `{Trait}Proxy` (blocking) and `{Trait}AsyncProxy`: the same methods, each
//! returning `Result<T, RemoteError>`, where `T` is the trait's return type
//! with `Remote<dyn X>` presented as X's proxy of the same flavor.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;

use super::{wire, Names};
use crate::model::{ArgKind, Interface, Method, RetShape};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Blocking,
    Async,
}

pub(crate) fn generate(model: &Interface, names: &Names, flavor: Flavor) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.ident;
    let vis = &model.vis;
    let trait_name = ident.unraw().to_string();
    let (this, other, doc, convert_doc, convert) = match flavor {
        Flavor::Blocking => (
            &names.proxy,
            &names.async_proxy,
            format!(
                " Blocking proxy of a [`{trait_name}`] object: each call sends a request and waits for the reply on this thread. \
                 Needs no async runtime. Clone it freely: clones share one handle, and the object is released when the last one drops."
            ),
            " The async proxy of the same object.",
            quote!(to_async),
        ),
        Flavor::Async => (
            &names.async_proxy,
            &names.proxy,
            format!(
                " Async proxy of a [`{trait_name}`] object: each method sends its call at once and returns a future of the reply \
                 ([`AsyncCall`](::remote::AsyncCall)) to `.await` without blocking the thread. \
                 Clone it freely: clones share one handle, and the object is released when the last one drops."
            ),
            " The blocking proxy of the same object.",
            quote!(to_blocking),
        ),
    };
    let methods = model.methods.iter().map(|m| {
        if m.property {
            property_getter(model, names, m, flavor)
        } else {
            method(model, names, m, flavor)
        }
    });
    let snapshot_methods = snapshot_methods(model, names, flavor);
    let bounds = super::where_wire(model);
    quote! {
        #[doc = #doc]
        #[derive(Clone)]
        #vis struct #this {
            remote: #krate::Remote<dyn #ident>,
        }

        impl #krate::__private::fmt::Debug for #this {
            fn fmt(&self, f: &mut #krate::__private::fmt::Formatter<'_>) -> #krate::__private::fmt::Result {
                #krate::__private::fmt::Debug::fmt(&self.remote, f)
            }
        }

        #[allow(deprecated, clippy::type_complexity)]
        impl #this #bounds {
            #(#methods)*

            #snapshot_methods

            /// True when both proxies stand for the same object.
            #vis fn same_object(&self, other: &impl #krate::Proxy<Interface = dyn #ident>) -> ::core::primitive::bool {
                self.remote.same_object(#krate::Proxy::as_remote(other))
            }

            /// The object reference behind this proxy, for passing it to
            /// another remote method.
            #vis fn into_remote(self) -> #krate::Remote<dyn #ident> {
                self.remote
            }

            #[doc = #convert_doc]
            #vis fn #convert(&self) -> #other {
                <#other as #krate::Proxy>::from_remote(#krate::__private::Clone::clone(&self.remote))
            }
        }

        impl #krate::Proxy for #this {
            type Interface = dyn #ident;
            fn from_remote(remote: #krate::Remote<dyn #ident>) -> Self {
                #this { remote }
            }
            fn as_remote(&self) -> &#krate::Remote<dyn #ident> {
                &self.remote
            }
        }

        impl #krate::__private::From<#this> for #krate::Remote<dyn #ident> {
            fn from(proxy: #this) -> Self {
                proxy.remote
            }
        }

        impl #krate::__private::From<&#this> for #krate::Remote<dyn #ident> {
            fn from(proxy: &#this) -> Self {
                #krate::__private::Clone::clone(&proxy.remote)
            }
        }
    }
}

fn method(model: &Interface, names: &Names, m: &Method, flavor: Flavor) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.ident;
    let vis = &model.vis;
    let name = &m.ident;
    let method_info = super::method_ref(names, m);
    let cfgs = super::cfgs(m);
    let deprecated = &m.deprecated;
    let default_doc = format!(
        " Calls [`{}::{}`] on the object.",
        ident.unraw(),
        name.unraw()
    );
    let docs = if m.docs.is_empty() {
        quote!(#[doc = #default_doc])
    } else {
        let d = &m.docs;
        quote!(#(#d)*)
    };
    let params = m.args.iter().map(|a| {
        let n = &a.name;
        let ty = &a.ty;
        match a.kind {
            ArgKind::Handle => quote!(#n: impl #krate::__private::Into<#ty>),
            _ => quote!(#n: #ty),
        }
    });
    let converts = m
        .args
        .iter()
        .filter(|a| matches!(a.kind, ArgKind::Handle))
        .map(|a| {
            let n = &a.name;
            let ty = &a.ty;
            quote!(let #n: #ty = #krate::__private::Into::into(#n);)
        });
    let arg_names: Vec<_> = m.args.iter().map(|a| &a.name).collect();
    let wire = wire::ret_ty(krate, m);
    let (out, present) = presentation(model, m, flavor);
    let local_value = quote!(#ident::#name(&**__remote_object, #(#arg_names),*));
    let local = if m.is_async {
        // A local object's async method, from the blocking proxy: run it here.
        present(quote!(#krate::__private::block_on(#local_value)))
    } else {
        present(local_value)
    };
    let args = wire::args(krate, m);
    let arrived = wire::ret_unwrap(krate, m, quote!(__remote_value));
    match flavor {
        Flavor::Blocking => {
            let remote_value = quote_spanned!(name.span()=> __remote_ref.call_blocking::<_, #wire>(#method_info, #args));
            let remote = if matches!(m.ret.shape, RetShape::Plain) && m.ret.bytes.is_none() {
                remote_value
            } else {
                let presented = present(arrived);
                quote!(#krate::__private::Result::map(#remote_value, |__remote_value| #presented))
            };
            quote! {
                #docs
                #cfgs
                #(#deprecated)*
                #[track_caller]
                #vis fn #name(&self, #(#params),*) -> #krate::__private::Result<#out, #krate::RemoteError> {
                    #(#converts)*
                    match self.remote.target() {
                        #krate::__private::Target::Local(__remote_object) => {
                            #krate::__private::Ok(#local)
                        }
                        #krate::__private::Target::Remote(__remote_ref) => #remote,
                    }
                }
            }
        }
        Flavor::Async => {
            // `AsyncCall<u64>` where the value arrives as it is presented;
            // both types where they differ (a handle arriving as a proxy).
            let call_ty = if matches!(m.ret.shape, RetShape::Plain) && m.ret.bytes.is_none() {
                quote!(#krate::AsyncCall<#out>)
            } else {
                quote!(#krate::AsyncCall<#wire, #out>)
            };
            let presented = present(arrived);
            let remote_async = quote_spanned! {name.span()=>
                __remote_ref.call_async(#method_info, #args, |__remote_value: #wire| -> #out { #presented })
            };
            let local_call = if m.is_async {
                // The future must own what it uses: the object and owned
                // copies of borrowed arguments.
                let owned = m.args.iter().map(|a| {
                    let n = &a.name;
                    match a.kind {
                        ArgKind::Borrowed { .. } => {
                            quote!(let #n = ::std::borrow::ToOwned::to_owned(#n);)
                        }
                        _ => quote!(),
                    }
                });
                let passes = m.args.iter().map(|a| {
                    let n = &a.name;
                    match a.kind {
                        ArgKind::Borrowed { .. } => quote!(&#n),
                        _ => quote!(#n),
                    }
                });
                let value = present(quote!(#ident::#name(&*__remote_object, #(#passes),*).await));
                quote! {{
                    let __remote_object = #krate::__private::Clone::clone(__remote_object);
                    #(#owned)*
                    #krate::AsyncCall::local(async move { #krate::__private::Ok(#value) })
                }}
            } else {
                quote!(#krate::AsyncCall::ready(#krate::__private::Ok(#local)))
            };
            quote! {
                #docs
                #cfgs
                #(#deprecated)*
                #[track_caller]
                #vis fn #name(&self, #(#params),*) -> #call_ty {
                    #(#converts)*
                    match self.remote.target() {
                        #krate::__private::Target::Local(__remote_object) => #local_call,
                        #krate::__private::Target::Remote(__remote_ref) => #remote_async,
                    }
                }
            }
        }
    }
}

/// A `#[property]` getter: reads the snapshot, no round trip.
fn property_getter(model: &Interface, names: &Names, m: &Method, flavor: Flavor) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.ident;
    let vis = &model.vis;
    let name = &m.ident;
    let ty = &m.ret.ty;
    let props = &names.properties;
    let doc = format!(
        " The `{}` property, from the snapshot taken when this object was first received \
         (or at the last `refresh()`): no round trip.",
        name.unraw()
    );
    let docs = &m.docs;
    match flavor {
        Flavor::Blocking => quote! {
            #(#docs)*
            #[doc = ""]
            #[doc = #doc]
            #[track_caller]
            #vis fn #name(&self) -> #krate::__private::Result<#ty, #krate::RemoteError> {
                match self.remote.target() {
                    #krate::__private::Target::Local(__remote_object) => {
                        #krate::__private::Ok(#ident::#name(&**__remote_object))
                    }
                    #krate::__private::Target::Remote(__remote_ref) => #krate::__private::Result::map(
                        __remote_ref.properties_blocking::<#props>(),
                        |__remote_props| #krate::__private::Clone::clone(&__remote_props.#name),
                    ),
                }
            }
        },
        Flavor::Async => quote! {
            #(#docs)*
            #[doc = ""]
            #[doc = #doc]
            #[track_caller]
            #vis fn #name(&self) -> #krate::__private::PropertyFuture<#props, #ty> {
                match self.remote.target() {
                    #krate::__private::Target::Local(__remote_object) => {
                        #krate::__private::PropertyFuture::ready(#ident::#name(&**__remote_object))
                    }
                    #krate::__private::Target::Remote(__remote_ref) => __remote_ref
                        .properties_async::<#props, #ty>(|__remote_props| {
                            #krate::__private::Clone::clone(&__remote_props.#name)
                        }),
                }
            }
        },
    }
}

/// `properties()` and `refresh()`, for traits with properties.
fn snapshot_methods(model: &Interface, names: &Names, flavor: Flavor) -> TokenStream {
    if !model.has_properties() {
        return TokenStream::new();
    }
    let krate = &model.krate;
    let vis = &model.vis;
    let props = &names.properties;
    match flavor {
        Flavor::Blocking => quote! {
            /// Every property, from the snapshot taken when this object was
            /// first received (or at the last `refresh()`): no round trip.
            #[track_caller]
            #vis fn properties(&self) -> #krate::__private::Result<#props, #krate::RemoteError> {
                match self.remote.target() {
                    #krate::__private::Target::Local(__remote_object) => {
                        #krate::__private::Ok(#props::capture(&**__remote_object))
                    }
                    #krate::__private::Target::Remote(__remote_ref) => #krate::__private::Result::map(
                        __remote_ref.properties_blocking::<#props>(),
                        |__remote_props| #krate::__private::Clone::clone(&*__remote_props),
                    ),
                }
            }

            /// Takes a new snapshot of every property in one round trip; the
            /// getters return it from now on.
            #[track_caller]
            #vis fn refresh(&self) -> #krate::__private::Result<#props, #krate::RemoteError> {
                match self.remote.target() {
                    #krate::__private::Target::Local(__remote_object) => {
                        #krate::__private::Ok(#props::capture(&**__remote_object))
                    }
                    #krate::__private::Target::Remote(__remote_ref) => #krate::__private::Result::map(
                        __remote_ref.refresh_blocking::<#props>(),
                        |__remote_props| #krate::__private::Clone::clone(&*__remote_props),
                    ),
                }
            }
        },
        Flavor::Async => quote! {
            /// Every property, from the snapshot taken when this object was
            /// first received (or at the last `refresh()`): no round trip.
            #[track_caller]
            #vis fn properties(&self) -> #krate::__private::PropertyFuture<#props, #props> {
                match self.remote.target() {
                    #krate::__private::Target::Local(__remote_object) => {
                        #krate::__private::PropertyFuture::ready(#props::capture(&**__remote_object))
                    }
                    #krate::__private::Target::Remote(__remote_ref) => {
                        __remote_ref.properties_async::<#props, #props>(#krate::__private::Clone::clone)
                    }
                }
            }

            /// Takes a new snapshot of every property in one round trip; the
            /// getters return it from now on.
            #[track_caller]
            #vis fn refresh(&self) -> #krate::__private::PropertyFuture<#props, #props> {
                match self.remote.target() {
                    #krate::__private::Target::Local(__remote_object) => {
                        #krate::__private::PropertyFuture::ready(#props::capture(&**__remote_object))
                    }
                    #krate::__private::Target::Remote(__remote_ref) => {
                        __remote_ref.refresh_async::<#props, #props>(#krate::__private::Clone::clone)
                    }
                }
            }
        },
    }
}

type Present<'a> = Box<dyn Fn(TokenStream) -> TokenStream + 'a>;

/// The proxy's success type for a method, and how to turn the trait's value
/// into it.
fn presentation<'a>(
    model: &'a Interface,
    m: &'a Method,
    flavor: Flavor,
) -> (TokenStream, Present<'a>) {
    let krate = &model.krate;
    // Named through the public aliases, so rustdoc shows
    // `ProxyOf<dyn Store>` and links it.
    let (alias, into) = match flavor {
        Flavor::Blocking => (quote!(ProxyOf), quote!(into_proxy)),
        Flavor::Async => (quote!(AsyncProxyOf), quote!(into_async_proxy)),
    };
    let proxy_of = move |iface: &syn::Type| quote!(#krate::#alias<#iface>);
    match &m.ret.shape {
        RetShape::Plain => {
            let ty = &m.ret.ty;
            (quote!(#ty), Box::new(|v| v))
        }
        RetShape::Handle { iface } => (
            proxy_of(iface),
            Box::new(move |v| quote!(#krate::Remote::#into(#v))),
        ),
        RetShape::ResultHandle { iface, error } => {
            let p = proxy_of(iface);
            (
                quote!(#krate::__private::Result<#p, #error>),
                Box::new(
                    move |v| quote!(#krate::__private::Result::map(#v, #krate::Remote::#into)),
                ),
            )
        }
        RetShape::OptionHandle { iface } => {
            let p = proxy_of(iface);
            (
                quote!(#krate::__private::Option<#p>),
                Box::new(
                    move |v| quote!(#krate::__private::Option::map(#v, #krate::Remote::#into)),
                ),
            )
        }
    }
}
