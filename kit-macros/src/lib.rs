//! Procedural macros of kit. Use them through the `kit` crate:
//! `#[kit::service]` on an impl block, `#[endpoint(...)]` on its methods,
//! `#[derive(kit::Message)]` on protobuf messages and enums.
//!
//! The shape follows serde_derive: thin entry points here; `internals`
//! turns syntax into a model (`attr` reads every attribute with darling,
//! `parse` builds the `ast`, `check` applies the rules that span items, all
//! errors collected in one `Ctxt` with their spans); `expand` writes one
//! output per module from the model alone. On error the user's item is
//! still emitted, with stubs for what the macro would have generated, so
//! the user sees the errors that matter and no follow-on ones.

mod expand;
mod internals;

use proc_macro::TokenStream;

/// Turns an impl block into a kit service: HTTP routes, gRPC methods,
/// instrumented wrappers, a typed client and a descriptor. See the `kit`
/// crate docs.
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
    expand::message(input.into()).into()
}

/// Marks a method of a `#[kit::service]` impl block as an endpoint. Only
/// meaningful there: `#[kit::service]` reads and removes it.
#[proc_macro_attribute]
pub fn endpoint(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::stray_endpoint(args.into(), item.into()).into()
}
