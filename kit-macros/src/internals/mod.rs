//! From syntax to a checked model: `attr` (darling) -> `parse` -> `check`,
//! every error collected in one [`Ctxt`].

pub(crate) mod ast;
pub(crate) mod attr;
pub(crate) mod auth;
pub(crate) mod case;
pub(crate) mod check;
mod ctxt;
pub(crate) mod duration;
pub(crate) mod limits;
pub(crate) mod parse;
pub(crate) mod route;

pub(crate) use ctxt::Ctxt;
