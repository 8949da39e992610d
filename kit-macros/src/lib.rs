//! Procedural macros of kit. Use them through the `kit` crate:
//! `#[kit::service]` on an impl block, `#[endpoint(...)]` on its methods.
//!
//! The shape follows serde_derive: a thin entry point here, then
//! [`attr`] (darling attribute types) -> [`parse`] (the impl block into the
//! [`model`], every mistake collected with its span) -> [`expand`] (one
//! module per output). On error the user's impl is still emitted, so the
//! user sees the one error that matters rather than fifty.

mod attr;
mod derive;
mod duration;
mod expand;
mod model;
mod parse;
mod route;

use proc_macro::TokenStream;

/// Turns an impl block into a kit service: HTTP routes, instrumented
/// wrappers, a typed client and a descriptor. See the `kit` crate docs.
#[proc_macro_attribute]
pub fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::service(args.into(), item.into()).into()
}

/// Protobuf encoding for a struct with named fields or a fieldless enum,
/// alongside its serde derives. Field numbers are positions (1-based)
/// unless a field says `#[kit(tag = N)]`; `#[kit(name = "...")]` renames
/// the protobuf message or enum.
#[proc_macro_derive(Message, attributes(kit))]
pub fn message(input: TokenStream) -> TokenStream {
    derive::message(input.into()).into()
}

/// Marks a method of a `#[kit::service]` impl block as an endpoint. Only
/// meaningful there: `#[kit::service]` reads and removes it.
#[proc_macro_attribute]
pub fn endpoint(_args: TokenStream, item: TokenStream) -> TokenStream {
    let mut out: proc_macro2::TokenStream = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[endpoint] only works on a method inside an impl block annotated with #[kit::service]",
    )
    .to_compile_error();
    out.extend(proc_macro2::TokenStream::from(item));
    out.into()
}
