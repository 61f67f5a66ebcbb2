//! `{Trait}Dispatcher`: decodes a call, invokes the local object, encodes the
//! reply.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;

use super::{wire, Names};
use crate::model::{ArgKind, Interface};

pub(crate) fn generate(model: &Interface, names: &Names) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.ident;
    let vis = &model.vis;
    let dispatcher = &names.dispatcher;
    let name = ident.unraw().to_string();
    let doc = format!(
        " Serves calls on a local [`{name}`] object: decodes each call, invokes the method and encodes the reply. \
         Built by the runtime when a `Remote<dyn {name}>` is sent; you rarely name it."
    );

    let arms = model.methods.iter().map(|m| {
        let id = syn::LitInt::new(&format!("{:#010x}u32", m.id), proc_macro2::Span::call_site());
        let method = &m.ident;
        let wire_types = m.args.iter().map(|a| wire::arg_ty(krate, a));
        let unwraps = m.args.iter().map(|a| wire::arg_unwrap(krate, a));
        let ret_ty = &m.ret.ty;
        let bindings = m.args.iter().map(|a| &a.name);
        let passes: Vec<_> = m.args.iter().map(|a| {
            let n = &a.name;
            match &a.kind {
                ArgKind::Borrowed { .. } => quote!(&#n),
                _ => quote!(#n),
            }
        }).collect();
        let ret_owned = wire::ret_owned(krate, m, quote!(__remote_ret));
        let invoke = if m.is_async {
            // The future owns the object and the decoded arguments, so it
            // can run on the async runtime while the reader goes on.
            quote! {
                let __remote_object = #krate::__private::Clone::clone(&self.object);
                __remote_call.reply_later(async move {
                    let __remote_ret: #ret_ty = #ident::#method(&*__remote_object, #(#passes),*).await;
                    #ret_owned
                });
                #krate::__private::Ok(())
            }
        } else {
            quote! {
                let __remote_ret: #ret_ty = #ident::#method(&*self.object, #(#passes),*);
                __remote_call.reply(&#ret_owned)
            }
        };
        // Errors from the decode below point at the method, not the attribute.
        let decode = quote_spanned! {method.span()=>
            let (#(#bindings,)*): (#(#wire_types,)*) = __remote_call.args()?;
            #(#unwraps)*
        };
        let cfgs = super::cfgs(m);
        quote! {
            #cfgs
            #id => {
                #decode
                #invoke
            }
        }
    });

    // Only traits with `async fn` methods say which: the default is none.
    let runs_async = if model.methods.iter().any(|m| m.is_async) {
        let arms = model.methods.iter().filter(|m| m.is_async).map(|m| {
            let id = syn::LitInt::new(
                &format!("{:#010x}u32", m.id),
                proc_macro2::Span::call_site(),
            );
            let cfgs = super::cfgs(m);
            quote!(#cfgs #id => true,)
        });
        quote! {
            fn runs_async(&self, id: ::core::primitive::u32) -> ::core::primitive::bool {
                match id {
                    #(#arms)*
                    _ => false,
                }
            }
        }
    } else {
        TokenStream::new()
    };
    let props = &names.properties;
    let (snapshot_arm, snapshot_fn, snapshot_method) = if model.has_properties() {
        (
            quote! {
                #krate::__private::SNAPSHOT_METHOD => {
                    let (): () = __remote_call.args()?;
                    __remote_call.reply(&#props::capture(&*self.object))
                }
            },
            quote! {
                fn snapshot(
                    &self,
                ) -> #krate::__private::Option<#krate::__private::Result<::std::vec::Vec<::core::primitive::u8>, #krate::RemoteError>> {
                    #krate::__private::Some(#krate::__private::encode_snapshot(&#props::capture(&*self.object)))
                }
            },
            quote! {
                #krate::__private::SNAPSHOT_METHOD => #krate::__private::Some(<#props as #krate::__private::Snapshot>::METHOD),
            },
        )
    } else {
        (TokenStream::new(), TokenStream::new(), TokenStream::new())
    };
    let bounds = super::where_wire(model);
    let lookups = model.methods.iter().map(|m| {
        let id = syn::LitInt::new(
            &format!("{:#010x}u32", m.id),
            proc_macro2::Span::call_site(),
        );
        let cfgs = super::cfgs(m);
        let r = super::method_ref(names, m);
        quote!(#cfgs #id => #krate::__private::Some(#r),)
    });
    quote! {
        #[doc = #doc]
        #vis struct #dispatcher {
            object: #krate::__private::Arc<dyn #ident>,
        }

        impl #dispatcher {
            /// Wraps a local object.
            #vis fn new(object: #krate::__private::Arc<dyn #ident>) -> Self {
                #dispatcher { object }
            }

            /// The local object.
            #vis fn object(&self) -> &#krate::__private::Arc<dyn #ident> {
                &self.object
            }
        }

        #[allow(deprecated)]
        impl #krate::__private::Dispatch for #dispatcher #bounds {
            fn interface_name(&self) -> &'static ::core::primitive::str {
                #name
            }

            fn object_addr(&self) -> ::core::primitive::usize {
                #krate::__private::Arc::as_ptr(&self.object) as *const () as ::core::primitive::usize
            }

            fn fingerprint(&self) -> ::core::primitive::u64 {
                <dyn #ident as #krate::__private::Interface>::FINGERPRINT
            }

            fn method(&self, id: ::core::primitive::u32) -> #krate::__private::Option<&'static #krate::__private::Method> {
                match id {
                    #(#lookups)*
                    #snapshot_method
                    _ => #krate::__private::None,
                }
            }

            #runs_async

            fn dispatch(
                &self,
                __remote_method: ::core::primitive::u32,
                __remote_call: &mut #krate::__private::Call<'_>,
            ) -> #krate::__private::Result<(), #krate::RemoteError> {
                match __remote_method {
                    #(#arms)*
                    #snapshot_arm
                    _ => #krate::__private::Err(#krate::RemoteError::NoSuchMethod {
                        interface: #krate::__private::ToString::to_string(#name),
                        method: #krate::__private::format!("#{:#x}", __remote_method),
                    }),
                }
            }

            fn as_any(&self) -> &dyn #krate::__private::Any {
                self
            }

            #snapshot_fn
        }
    }
}
