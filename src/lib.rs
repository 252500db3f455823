#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use token_refresh_macros::refresh_token;
// Everything else, including the hidden `__private` module the macro's
// expansion calls into.
pub use token_refresh_runtime::*;
