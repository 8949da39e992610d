//! One error accumulator for a whole expansion.

use darling::Error;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;

/// Collects every error of an expansion with its span. It has no drop
/// check that could panic: the expansion reads it once, at its one exit,
/// with [`Ctxt::finish`].
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Vec<Error>,
}

impl Ctxt {
    pub(crate) fn new() -> Ctxt {
        Ctxt::default()
    }

    /// An error at `node`'s span.
    pub(crate) fn error_at<T: ToTokens>(&mut self, node: &T, message: impl std::fmt::Display) {
        self.errors
            .push(Error::custom(message).with_span(&node.to_token_stream()));
    }

    /// An error at `span`.
    pub(crate) fn error_span(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(Error::custom(message).with_span(&span));
    }

    /// An error darling or syn produced (with its own span).
    pub(crate) fn push(&mut self, error: impl Into<Error>) {
        self.errors.push(error.into());
    }

    /// The value of `result`, or `None` with its error recorded.
    pub(crate) fn ok<T, E: Into<Error>>(&mut self, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The errors as `compile_error!` tokens (empty when there are none).
    pub(crate) fn finish(self) -> TokenStream {
        if self.errors.is_empty() {
            TokenStream::new()
        } else {
            Error::multiple(self.errors).write_errors()
        }
    }
}
