//! The arguments of `#[refresh_token(...)]`: `cache = field` and `skip`.
//!
//! Parsing goes on after a bad argument, so that one compile reports every
//! mistake in the list.

use std::fmt::Display;
use std::mem;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream, Parser as _};
use syn::{Attribute, Error, Ident, LitStr, Member, Meta, Result, Token};

use crate::valid::Errors;

/// The arguments of one `#[refresh_token(...)]`.
#[derive(Default)]
pub(crate) struct Args {
    /// `cache = field`: read this `TokenCache` field instead of calling
    /// `HasTokenCache`.
    pub cache: Option<CacheField>,
    /// `skip`: leave this method of an annotated `impl` block alone.
    pub skip: Option<Ident>,
}

/// The `field` of `cache = field`, with the `cache` key it came from.
pub(crate) struct CacheField {
    pub key: Ident,
    pub member: Member,
}

impl Args {
    /// The arguments of the attribute the compiler invoked.
    pub(crate) fn parse_tokens(tokens: TokenStream) -> Result<Self> {
        Args::parse.parse2(tokens)
    }

    /// The arguments of a `#[refresh_token]` found on a method inside an
    /// annotated `impl` block, which the compiler has not invoked.
    pub(crate) fn parse_attribute(attr: &Attribute) -> Result<Self> {
        match &attr.meta {
            Meta::Path(_) => Ok(Args::default()),
            Meta::List(_) => attr.parse_args_with(Args::parse),
            Meta::NameValue(meta) => Err(Error::new_spanned(
                meta.eq_token,
                "`#[refresh_token = ...]` is not a form the attribute takes; \
                 write `#[refresh_token(cache = field)]` or \
                 `#[refresh_token(skip)]`",
            )),
        }
    }
}

/// Removes every `#[refresh_token(...)]` from `attrs` and returns them.
pub(crate) fn take_refresh_attrs(attrs: &mut Vec<Attribute>) -> Vec<Attribute> {
    let (ours, others) = mem::take(attrs).into_iter().partition(is_refresh_token);
    *attrs = others;
    ours
}

/// Whether `attr` is `#[refresh_token]` under any path, such as
/// `#[token_refresh::refresh_token]`: matching by the last segment is all
/// a macro can do, since it cannot resolve paths.
fn is_refresh_token(attr: &Attribute) -> bool {
    let last = attr.path().segments.last();
    last.is_some_and(|segment| segment.ident == "refresh_token")
}

impl Parse for Args {
    fn parse(input: ParseStream) -> Result<Self> {
        let mut args = Args::default();
        let mut errors = Errors::default();
        while !input.is_empty() {
            if let Err(err) = args.parse_one(input) {
                errors.push(err);
                skip_to_comma(input);
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        errors.finish()?;
        Ok(args)
    }
}

impl Args {
    fn parse_one(&mut self, input: ParseStream) -> Result<()> {
        if !input.peek(Ident::peek_any) {
            let token: TokenTree = input.parse()?;
            return Err(argument_error(&token, Misuse::Unknown));
        }
        let key = input.call(Ident::parse_any)?;
        if key == "cache" {
            let member = parse_cache_value(&key, input)?;
            set_once(&mut self.cache, key, |key| CacheField { key, member })
        } else if key == "skip" {
            reject_value(&key, input)?;
            set_once(&mut self.skip, key, |key| key)
        } else {
            Err(argument_error(&key, Misuse::Unknown))
        }
    }
}

/// The `field` after `cache =`.
fn parse_cache_value(key: &Ident, input: ParseStream) -> Result<Member> {
    if !input.peek(Token![=]) {
        return Err(Error::new_spanned(
            key,
            "`cache` needs the name of a `TokenCache` field; \
             write `#[refresh_token(cache = field)]`",
        ));
    }
    input.parse::<Token![=]>()?;
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let message = format!(
            "`cache` takes a field name, not a string; write `cache = {}`",
            lit.value(),
        );
        return Err(Error::new_spanned(lit, message));
    }
    input.parse().map_err(|err| {
        Error::new(
            err.span(),
            "`cache` needs the name of a `TokenCache` field; \
             write `#[refresh_token(cache = field)]`",
        )
    })
}

/// `skip` is a flag: `skip = true` or `skip(...)` would read as if it
/// could be turned off or configured.
fn reject_value(key: &Ident, input: ParseStream) -> Result<()> {
    if input.is_empty() || input.peek(Token![,]) {
        return Ok(());
    }
    Err(Error::new_spanned(
        key,
        "`skip` takes no value; write `#[refresh_token(skip)]`",
    ))
}

fn set_once<T>(slot: &mut Option<T>, key: Ident, value: impl FnOnce(Ident) -> T) -> Result<()> {
    if slot.is_some() {
        return Err(argument_error(&key, Misuse::Duplicate));
    }
    *slot = Some(value(key));
    Ok(())
}

/// Steps over the rest of a bad argument, to the `,` before the next one.
fn skip_to_comma(input: ParseStream) {
    while !input.is_empty() && !input.peek(Token![,]) {
        if input.parse::<TokenTree>().is_err() {
            return;
        }
    }
}

enum Misuse {
    Unknown,
    Duplicate,
}

/// Words every mistake about which arguments were given, so they read
/// alike.
fn argument_error<T: ToTokens + Display>(arg: &T, misuse: Misuse) -> Error {
    let message = match misuse {
        Misuse::Unknown => format!(
            "unknown argument `{arg}` for `#[refresh_token]`; \
             the accepted arguments are `cache = field` and `skip`",
        ),
        Misuse::Duplicate => format!(
            "duplicate argument `{arg}` for `#[refresh_token]`; \
             remove this one",
        ),
    };
    Error::new_spanned(arg, message)
}
