//! Doc comments, other attributes, visibility and `cfg` survive on the
//! annotated item and on every method of an annotated block.

#![deny(missing_docs)]

//! A binary whose items must all be documented.

mod support;

mod api {
    use crate::support::{ApiError, Client};
    use token_refresh::refresh_token;

    #[refresh_token]
    impl Client {
        /// Reachable from the parent module: `pub(crate)` survived.
        #[must_use = "the answer matters"]
        #[inline]
        pub(crate) async fn visible(&self) -> Result<u8, ApiError> {
            Ok(1)
        }

        /// Two methods share a name: this one is compiled out.
        #[cfg(any())]
        pub(crate) async fn chosen(&self) -> Result<&'static str, ApiError> {
            Ok("removed")
        }

        /// Two methods share a name: this one is kept.
        #[cfg(all())]
        pub(crate) async fn chosen(&self) -> Result<&'static str, ApiError> {
            Ok("kept")
        }
    }

    impl Client {
        /// A single annotated method, public to the crate.
        #[allow(clippy::unused_async)]
        #[refresh_token]
        #[doc(alias = "single")]
        pub(crate) async fn one(&self) -> Result<u8, ApiError> {
            Ok(2)
        }
    }
}

/// Runs the case.
fn main() {
    let client = support::Client::new();
    support::block_on(async {
        assert_eq!(client.visible().await.unwrap(), 1);
        assert_eq!(client.chosen().await.unwrap(), "kept");
        assert_eq!(client.one().await.unwrap(), 2);
    });
}
