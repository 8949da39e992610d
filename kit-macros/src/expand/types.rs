//! The types generated code names, each asked of the compiler through a
//! check spanned at the type the user wrote, so a type that cannot do what
//! its place needs gets one error, at the type, with the runtime's message.

use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::Type;

/// `wire::<T>()`: the JSON codec of `T`.
pub(super) fn wire(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> ::kit::__private::wire::<#ty>())
}

/// `url::<T>()`: the URL codec of `T` (path segment or query parameter).
pub(super) fn url(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> ::kit::__private::url::<#ty>())
}

/// Whether the type is written `()`.
pub(super) fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// `T` as a protobuf message field.
pub(super) fn field(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::kit::__private::proto::FieldCheck>::Type)
}

/// `T` as a whole gRPC request or response.
pub(super) fn payload(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::kit::__private::proto::PayloadCheck>::Type)
}
