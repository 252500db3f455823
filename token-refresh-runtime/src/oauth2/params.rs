//! The request parameters that grants share (`scope`, `audience`,
//! `resource`, anything else) and the builder methods that set them.

use super::endpoint::Form;

/// The request parameters most grants accept.
#[derive(Debug, Clone, Default)]
pub(super) struct Params {
    pub(super) scope: Option<String>,
    pub(super) audience: Option<String>,
    pub(super) resources: Vec<String>,
    pub(super) extra: Vec<(String, String)>,
}

impl Params {
    pub(super) fn append_to(&self, form: &mut Form) {
        let mut push = |k: &str, v: &str| form.push((k.to_owned(), v.to_owned()));
        if let Some(scope) = &self.scope {
            push("scope", scope);
        }
        if let Some(audience) = &self.audience {
            push("audience", audience);
        }
        for resource in &self.resources {
            push("resource", resource);
        }
        for (k, v) in &self.extra {
            push(k, v);
        }
    }
}

/// Builder methods for the parameters every grant here accepts.
macro_rules! params_methods {
    () => {
        /// The space-separated scopes to ask for. Default: none, so the
        /// server grants its default scope.
        pub fn scope(mut self, scope: impl Into<String>) -> Self {
            self.params.scope = Some(scope.into());
            self
        }

        /// The `audience` parameter, which some providers (Auth0, Okta)
        /// use to pick the API the token is for.
        pub fn audience(mut self, audience: impl Into<String>) -> Self {
            self.params.audience = Some(audience.into());
            self
        }

        /// Adds a `resource` indicator (RFC 8707); may be repeated.
        pub fn resource(mut self, resource: impl Into<String>) -> Self {
            self.params.resources.push(resource.into());
            self
        }

        /// Adds any other form parameter the provider wants.
        pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.params.extra.push((name.into(), value.into()));
            self
        }
    };
}

pub(super) use params_methods;
