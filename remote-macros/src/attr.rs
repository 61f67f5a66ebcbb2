//! Arguments of the attribute itself: `#[remote_object(crate = "path")]`.

use syn::parse::Parser;

/// Parsed attribute arguments.
pub(crate) struct Args {
    /// Path of the facade crate, `::remote` unless renamed.
    pub(crate) krate: syn::Path,
}

pub(crate) fn parse(tokens: proc_macro2::TokenStream) -> syn::Result<Args> {
    let mut krate: syn::Path = syn::parse_quote!(::remote);
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            let lit: syn::LitStr = meta.value()?.parse()?;
            krate = lit.parse()?;
            Ok(())
        } else {
            Err(meta.error(
                "unknown argument; the only one is `crate = \"path\"` (the path of the `remote` crate if you renamed it)",
            ))
        }
    });
    parser.parse2(tokens)?;
    Ok(Args { krate })
}
