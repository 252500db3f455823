//! The rewrite: each covered method gets a token refresh before its body.
//! Nothing else about the item changes.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{
    Block, Error, Ident, ImplItem, Item, ItemFn, ItemImpl, Member, Result, Stmt, Token,
    parse_quote_spanned,
};

use crate::args::{self, Args};
use crate::valid::{self, Errors, Target};

/// The rewritten item, or the errors and the item to emit beside them.
type Expansion = std::result::Result<TokenStream, (Error, TokenStream)>;

/// The attribute: `args` is what is inside `#[refresh_token(...)]`, `input`
/// the item under it.
///
/// A misused attribute emits its errors beside the item as written, so the
/// rest of the crate still finds the item and reports nothing more.
pub(crate) fn refresh_token(args: TokenStream, input: TokenStream) -> TokenStream {
    let args = Args::parse_tokens(args);
    let expanded: Expansion = match syn::parse2::<Item>(input.clone()) {
        Ok(Item::Impl(item)) => expand_impl(args, item),
        Ok(Item::Fn(item)) => expand_method(args, item),
        Ok(item) => Err((misplaced(args, &item), input)),
        Err(err) => Err((err, input)),
    };
    expanded.unwrap_or_else(|(err, item)| {
        let mut tokens = err.into_compile_error();
        tokens.extend(item);
        tokens
    })
}

fn misplaced(args: Result<Args>, item: &Item) -> Error {
    match args {
        Ok(_) => valid::unsupported_item(item),
        Err(mut err) => {
            err.combine(valid::unsupported_item(item));
            err
        }
    }
}

/// Input:
///
/// ```text
/// #[refresh_token]
/// async fn get(&self, id: u32) -> Result<User, ApiError> { body }
/// ```
///
/// Output:
///
/// ```text
/// async fn get(&self, id: u32) -> Result<User, ApiError> { refresh; body }
/// ```
///
/// On a misuse the method comes back unchanged but for any further
/// `#[refresh_token]` on it, which would otherwise run on its own and
/// report the same errors again.
fn expand_method(
    args: Result<Args>,
    mut method: ItemFn,
) -> std::result::Result<TokenStream, (Error, TokenStream)> {
    let extra = args::take_refresh_attrs(&mut method.attrs);
    let checks = valid::both(
        args.and_then(valid::standalone_args),
        valid::both(
            valid::annotated_method(&method.sig),
            valid::no_duplicates(&extra),
        ),
    );
    let (args, (target, ())) = match checks {
        Ok(checked) => checked,
        Err(err) => return Err((err, method.into_token_stream())),
    };
    let plan = Plan {
        target,
        cache: args.cache.map(|cache| cache.member),
    };
    prepend_refresh(&mut method.block, &plan);
    Ok(method.into_token_stream())
}

/// Input:
///
/// ```text
/// #[refresh_token]
/// impl Client {
///     async fn get(&self) -> Result<User, ApiError> { body }
///     #[refresh_token(cache = admin_tokens)]
///     async fn admin(&self) -> Result<(), ApiError> { body }
///     #[refresh_token(skip)]
///     async fn health(&self) -> Result<(), ApiError> { body }
///     fn base_url(&self) -> &str { body }
/// }
/// ```
///
/// Output:
///
/// ```text
/// impl Client {
///     async fn get(&self) -> Result<User, ApiError> { refresh; body }
///     async fn admin(&self) -> Result<(), ApiError> {
///         refresh from self.admin_tokens; body
///     }
///     async fn health(&self) -> Result<(), ApiError> { body }
///     fn base_url(&self) -> &str { body }
/// }
/// ```
///
/// On a misuse the block comes back with its methods' `#[refresh_token]`
/// removed and no body changed: left in place, those attributes would run
/// on their own and report `skip` as misplaced.
fn expand_impl(args: Result<Args>, mut item: ItemImpl) -> Expansion {
    let mut errors = Errors::default();
    errors.take(valid::covers_something(&item));
    let outer = errors.take(args.and_then(valid::impl_args));
    let outer = outer.unwrap_or_default();
    let extra = args::take_refresh_attrs(&mut item.attrs);
    errors.take(valid::no_duplicates(&extra));
    let plans: Vec<Option<Plan>> = (item.items.iter_mut())
        .map(|impl_item| plan(impl_item, &outer, &mut errors))
        .collect();
    if let Err(err) = errors.finish() {
        return Err((err, item.into_token_stream()));
    }
    for (impl_item, plan) in item.items.iter_mut().zip(plans) {
        if let (ImplItem::Fn(method), Some(plan)) = (impl_item, plan) {
            prepend_refresh(&mut method.block, &plan);
        }
    }
    Ok(item.into_token_stream())
}

/// How to rewrite one method.
struct Plan {
    target: Target,
    /// `cache = field`, or `None` to go through `HasTokenCache`.
    cache: Option<Member>,
}

/// The plan for one item of an annotated `impl` block, or `None` to leave
/// it alone. Takes away the item's own `#[refresh_token(...)]`: only this
/// expansion reads it.
fn plan(item: &mut ImplItem, outer: &Args, errors: &mut Errors) -> Option<Plan> {
    let ImplItem::Fn(method) = item else {
        return None;
    };
    let own = args::take_refresh_attrs(&mut method.attrs);
    let Some((first, extra)) = own.split_first() else {
        if !valid::is_covered(&method.sig) {
            return None;
        }
        let target = errors.take(valid::covered_method(&method.sig))?;
        let cache = outer.cache.as_ref().map(|cache| cache.member.clone());
        return Some(Plan { target, cache });
    };
    errors.take(valid::no_duplicates(extra));
    let own = errors.take(Args::parse_attribute(first))?;
    if own.skip.is_some() {
        errors.take(valid::skip_args(&own));
        return None;
    }
    let target = errors.take(valid::annotated_method(&method.sig))?;
    let cache = own.cache.as_ref().or(outer.cache.as_ref());
    let cache = cache.map(|cache| cache.member.clone());
    Some(Plan { target, cache })
}

/// Input:
///
/// ```text
/// async fn get(&self) -> Result<User, ApiError> { body }
/// ```
///
/// Output:
///
/// ```text
/// async fn get(&self) -> Result<User, ApiError> {
///     {
///         let __token_refresh_cache = cache_of::<Self>(&self);
///         if let Err(__token_refresh_err) =
///             __token_refresh_cache.ensure_fresh().await
///         {
///             return Err(into_method_error(__token_refresh_err));
///         }
///     }
///     body
/// }
/// ```
///
/// The method stays an `async fn`, so nothing runs before the first poll.
/// The inner block ends the borrow of `self` before `body` runs, and only
/// the `&TokenCache` lives across the `.await`, never a `&Self`: the future
/// is `Send` exactly when the unannotated one is, even for `&mut self` on a
/// type that is not `Sync`.
fn prepend_refresh(block: &mut Block, plan: &Plan) {
    // Mixed-site hygiene keeps the locals apart from the user's names.
    // The tokens are located where the user would fix an error: the
    // error type for a missing `From`, else where the cache comes from
    // (the receiver, or the field of `cache = field`). The type checker
    // reports a missing `HasTokenCache` at several of these tokens; at one
    // location its reports merge into one.
    let at_source = Span::mixed_site().located_at(source_span(plan));
    let at_error = Span::mixed_site().located_at(plan.target.error_span);
    let cache = Ident::new("__token_refresh_cache", at_source);
    let err = Ident::new("__token_refresh_err", at_source);
    let lookup = cache_lookup(&cache, plan, at_source);
    let into_error = quote_spanned! {at_error=>
        ::token_refresh::__private::into_method_error(#err)
    };
    let refresh: Stmt = parse_quote_spanned! {at_source=>
        {
            #lookup
            if let ::core::result::Result::Err(#err) =
                #cache.ensure_fresh().await
            {
                return ::core::result::Result::Err(#into_error);
            }
        }
    };
    block.stmts.insert(0, refresh);
}

/// Where the cache comes from: the receiver, or the `field` of
/// `cache = field`.
fn source_span(plan: &Plan) -> Span {
    match &plan.cache {
        None => plan.target.self_span,
        Some(field) => field.span(),
    }
}

/// `let __token_refresh_cache = ...;`, from `HasTokenCache` or the field.
///
/// `self` keeps the user's hygiene, since a mixed-site `self` would not
/// name the method's receiver.
fn cache_lookup(cache: &Ident, plan: &Plan, span: Span) -> TokenStream {
    match &plan.cache {
        None => {
            let self_token = Token![self](plan.target.self_span);
            // `&self` deref-coerces to `&Self` for every receiver type.
            quote_spanned! {span=>
                let #cache =
                    ::token_refresh::__private::cache_of::<Self>(&#self_token);
            }
        }
        Some(field) => {
            let self_token = Token![self](field.span());
            // The annotation makes a field of the wrong type a type
            // mismatch at the field.
            quote_spanned! {span=>
                let #cache: &::token_refresh::TokenCache<_> =
                    &#self_token.#field;
            }
        }
    }
}
