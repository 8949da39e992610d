//! The types generated code names, each asked of the compiler through a
//! check spanned at the type the user wrote, so a type that cannot do what
//! its place needs gets one error, at the type, with the runtime's message.

use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::Type;

use crate::internals::parse::option_inner;

/// `wire::<T>()`: the JSON codec of `T`.
pub(super) fn wire(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> ::kit::__private::wire::<#ty>())
}

/// `T` as a value in a URL (path segment or query parameter).
pub(super) fn url_param(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::kit::__private::UrlParam>::Type)
}

/// The `T` of an optional query parameter `Option<T>`, as a URL value.
pub(super) fn optional_url_param(ty: &Type) -> TokenStream {
    url_param(option_inner(ty).unwrap_or(ty))
}

/// `T` as a protobuf message field.
pub(super) fn field(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::kit::__private::proto::FieldCheck>::Type)
}

/// `T` as a whole gRPC request or response.
pub(super) fn payload(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::kit::__private::proto::PayloadCheck>::Type)
}
