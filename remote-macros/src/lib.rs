//! The `#[remote_object]` attribute of the [`remote`](https://docs.rs/remote)
//! crate. Use it through `remote::remote_object`; the generated code reaches
//! the runtime only through `remote::__private`.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod attr;
mod check;
mod expand;
mod fingerprint;
mod gen;
mod model;
#[cfg(test)]
mod snapshot;

/// Generates the dispatcher and the blocking and async proxies of a trait.
/// See the `remote` crate's documentation for what it emits and accepts.
#[proc_macro_attribute]
pub fn remote_object(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::expand(args.into(), input.into()).into()
}
