//! Every misuse of `#[refresh_token]` the macro reports, each spanned on
//! the token to change and worded the same way: what is wrong, then the
//! fix after a semicolon.
//!
//! The checks hand back what the rewrite needs (a [`Target`]) rather than
//! a yes or no, so the rewrite never has to look again.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned as _;
use syn::{
    Attribute, Error, GenericArgument, Ident, ImplItem, Item, ItemImpl, PathArguments, Result,
    ReturnType, Signature, TraitItemFn, Type,
};

use crate::args::Args;

/// Collects errors, so that one compile reports every mistake.
#[derive(Default)]
pub(crate) struct Errors(Option<Error>);

impl Errors {
    pub(crate) fn push(&mut self, err: Error) {
        match &mut self.0 {
            Some(first) => first.combine(err),
            None => self.0 = Some(err),
        }
    }

    /// The value of `result`, keeping its error for later.
    pub(crate) fn take<T>(&mut self, result: Result<T>) -> Option<T> {
        result.map_err(|err| self.push(err)).ok()
    }

    pub(crate) fn finish(self) -> Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A method the rewrite may change, with the spans its diagnostics use.
pub(crate) struct Target {
    /// The receiver's `self`: a missing `HasTokenCache` is reported here.
    pub self_span: Span,
    /// The method's error type, or its `Result` when an alias hides it: a
    /// missing `From<token_refresh::Error>` is reported here.
    pub error_span: Span,
}

/// Whether an annotated `impl` block covers `sig` without being told:
/// async methods with a receiver. Other functions are left alone.
pub(crate) fn is_covered(sig: &Signature) -> bool {
    sig.asyncness.is_some() && sig.receiver().is_some()
}

/// An annotated `impl` block must have something to cover. One without an
/// async method usually means `#[async_trait]` ran first and turned its
/// methods into plain ones returning boxed futures.
pub(crate) fn covers_something(item: &ItemImpl) -> Result<()> {
    let covered = item.items.iter().any(|item| match item {
        ImplItem::Fn(method) => is_covered(&method.sig),
        _ => false,
    });
    if covered {
        return Ok(());
    }
    let message = "`#[refresh_token]` found no async method with a receiver in this \
                   `impl` block; remove it, or if `#[async_trait]` is above it, \
                   move `#[refresh_token]` above `#[async_trait]`";
    Err(Error::new_spanned(&item.self_ty, message))
}

/// A method that carries `#[refresh_token]` itself: it must be async, take
/// `self` and return a `Result`.
pub(crate) fn annotated_method(sig: &Signature) -> Result<Target> {
    let checks = both(
        is_async(sig),
        both(receiver_span(sig), returns_result(sig, RESULT_FIX)),
    );
    let ((), (self_span, error_span)) = checks?;
    Ok(Target {
        self_span,
        error_span,
    })
}

/// Both values, or every error of the two.
pub(crate) fn both<A, B>(a: Result<A>, b: Result<B>) -> Result<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            Err(a)
        }
        (Err(err), Ok(_)) | (Ok(_), Err(err)) => Err(err),
    }
}

fn is_async(sig: &Signature) -> Result<()> {
    match sig.asyncness {
        Some(_) => Ok(()),
        None => Err(Error::new_spanned(
            sig.fn_token,
            "`#[refresh_token]` needs an async method; \
             add `async` or remove the attribute",
        )),
    }
}

/// A method an annotated `impl` block covers (see [`is_covered`]): it must
/// return a `Result`, or be marked to skip.
pub(crate) fn covered_method(sig: &Signature) -> Result<Target> {
    Ok(Target {
        self_span: receiver_span(sig)?,
        error_span: returns_result(sig, COVERED_RESULT_FIX)?,
    })
}

fn receiver_span(sig: &Signature) -> Result<Span> {
    match sig.receiver() {
        Some(receiver) => Ok(receiver.self_token.span),
        None => Err(Error::new(
            sig.paren_token.span.join(),
            "`#[refresh_token]` needs a method that takes `self`, to find \
             the token cache; make it a method taking `&self` or remove \
             the attribute",
        )),
    }
}

const RESULT_FIX: &str = "return `Result<T, E>` with \
                          `E: From<token_refresh::Error>` \
                          or remove the attribute";

const COVERED_RESULT_FIX: &str = "return `Result<T, E>` with \
                                  `E: From<token_refresh::Error>` \
                                  or mark the method \
                                  `#[refresh_token(skip)]`";

/// The check is by name, since the macro cannot resolve types: any path
/// ending in `Result` passes, so `io::Result<T>` and user aliases work.
fn returns_result(sig: &Signature, fix: &str) -> Result<Span> {
    let message = format!(
        "`#[refresh_token]` needs `{}` to return a `Result`, \
         to pass on a refresh error; {fix}",
        sig.ident,
    );
    let ty = match &sig.output {
        ReturnType::Type(_, ty) => ty,
        ReturnType::Default => {
            return Err(Error::new_spanned(&sig.ident, message));
        }
    };
    result_error_span(ty).ok_or_else(|| Error::new_spanned(ty, message))
}

/// Where a `Result` type names its error: `E` in `Result<T, E>`, or the
/// `Result` itself when an alias such as `io::Result<T>` hides it.
fn result_error_span(ty: &Type) -> Option<Span> {
    let segment = match ty {
        Type::Group(group) => return result_error_span(&group.elem),
        Type::Paren(paren) => return result_error_span(&paren.elem),
        Type::Path(path) => path.path.segments.last()?,
        _ => return None,
    };
    if segment.ident != "Result" {
        return None;
    }
    let error_type = match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().nth(1),
        _ => None,
    };
    Some(match error_type {
        Some(GenericArgument::Type(error)) => error.span(),
        _ => segment.ident.span(),
    })
}

/// Outside an annotated `impl` block there is nothing for `skip` to skip.
pub(crate) fn standalone_args(args: Args) -> Result<Args> {
    match &args.skip {
        Some(skip) => Err(Error::new_spanned(
            skip,
            "`#[refresh_token(skip)]` only works on a method inside an \
             `impl` block that has `#[refresh_token]`; add \
             `#[refresh_token]` to the `impl` block or remove this attribute",
        )),
        None => Ok(args),
    }
}

/// `skip` on the `impl` block itself would switch the whole block off.
pub(crate) fn impl_args(args: Args) -> Result<Args> {
    match &args.skip {
        Some(skip) => Err(Error::new_spanned(
            skip,
            "`skip` goes on a method inside the `impl` block, not on the \
             block; write `#[refresh_token(skip)]` above the method",
        )),
        None => Ok(args),
    }
}

/// A skipped method reads no cache, so a `cache` beside `skip` is a slip.
pub(crate) fn skip_args(args: &Args) -> Result<()> {
    match (&args.skip, &args.cache) {
        (Some(_), Some(cache)) => Err(Error::new_spanned(
            &cache.key,
            "`cache` has no effect on a skipped method; \
             remove `cache` or `skip`",
        )),
        _ => Ok(()),
    }
}

/// A second `#[refresh_token]` on the same item would refresh twice.
pub(crate) fn no_duplicates(extra: &[Attribute]) -> Result<()> {
    let mut errors = Errors::default();
    for attr in extra {
        errors.push(Error::new_spanned(
            attr,
            "`#[refresh_token]` is already on this item; remove this one",
        ));
    }
    errors.finish()
}

/// A method declared without a body, in a trait definition.
fn bodiless(method: &TraitItemFn) -> Error {
    let sig = &method.sig;
    Error::new_spanned(
        head(sig.fn_token, &sig.ident),
        "`#[refresh_token]` needs a method with a body; \
         put it on the method in the `impl` block",
    )
}

/// Any item that is neither an `impl` block nor a method.
pub(crate) fn unsupported_item(item: &Item) -> Error {
    if let Item::Verbatim(tokens) = item {
        match syn::parse2::<TraitItemFn>(tokens.clone()) {
            Ok(method) if method.default.is_none() => return bodiless(&method),
            _ => {}
        }
    }
    if let Item::Trait(item) = item {
        let head = head(item.trait_token, &item.ident);
        let message = format!(
            "`#[refresh_token]` goes on the `impl` of a trait, not on the \
             trait definition; move it to `impl {} for ...`",
            item.ident,
        );
        return Error::new_spanned(head, message);
    }
    let (head, noun, fix) = describe(item);
    Error::new_spanned(
        head,
        format!(
            "`#[refresh_token]` goes on an `impl` block or an async method, \
             not on {noun}; {fix}",
        ),
    )
}

/// The tokens that name `item`, what to call it, and how to fix it.
fn describe(item: &Item) -> (TokenStream, &'static str, String) {
    let remove = || String::from("remove the attribute");
    let to_impl = |ident: &Ident| format!("move it to `impl {ident}`");
    match item {
        Item::Struct(s) => (
            head(s.struct_token, &s.ident),
            "a struct",
            to_impl(&s.ident),
        ),
        Item::Enum(e) => (head(e.enum_token, &e.ident), "an enum", to_impl(&e.ident)),
        Item::Union(u) => (head(u.union_token, &u.ident), "a union", to_impl(&u.ident)),
        Item::Mod(m) => (head(m.mod_token, &m.ident), "a module", remove()),
        Item::Const(c) => (head(c.const_token, &c.ident), "a constant", remove()),
        Item::Static(s) => (head(s.static_token, &s.ident), "a static", remove()),
        Item::Type(t) => (head(t.type_token, &t.ident), "a type alias", remove()),
        Item::Use(u) => (u.use_token.into_token_stream(), "a `use`", remove()),
        _ => (TokenStream::new(), "this item", remove()),
    }
}

/// The keyword and name that start an item: enough to point at it without
/// underlining its whole body.
fn head(keyword: impl ToTokens, name: &Ident) -> TokenStream {
    let mut tokens = keyword.into_token_stream();
    name.to_tokens(&mut tokens);
    tokens
}
