//! Every kind of receiver finds the cache and keeps its future `Send`.

mod support;

use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use support::{ApiError, Client, assert_send, block_on};
use token_refresh::refresh_token;

#[refresh_token]
impl Client {
    async fn by_ref(&self) -> Result<String, ApiError> {
        Ok(self.tokens.authorization()?.to_str().unwrap().to_owned())
    }

    async fn by_mut(&mut self) -> Result<(), ApiError> {
        self.tokens.authorization()?;
        Ok(())
    }

    async fn by_value(self) -> Result<Self, ApiError> {
        Ok(self)
    }

    async fn by_mut_value(mut self) -> Result<Self, ApiError> {
        self = Client { tokens: self.tokens };
        Ok(self)
    }

    async fn typed_ref(self: &Self) -> Result<(), ApiError> {
        Ok(())
    }

    async fn typed_mut(self: &mut Self) -> Result<(), ApiError> {
        Ok(())
    }

    async fn boxed(self: Box<Self>) -> Result<Box<Self>, ApiError> {
        Ok(self)
    }

    async fn arc(self: Arc<Self>) -> Result<Arc<Self>, ApiError> {
        Ok(self)
    }

    async fn arc_ref(self: &Arc<Self>) -> Result<(), ApiError> {
        Ok(())
    }

    async fn rc(self: Rc<Self>) -> Result<(), ApiError> {
        Ok(())
    }

    async fn pinned(self: Pin<&mut Self>) -> Result<(), ApiError> {
        Ok(())
    }

    async fn pinned_box(self: Pin<Box<Self>>) -> Result<(), ApiError> {
        Ok(())
    }
}

fn main() {
    block_on(async {
        let mut client = Client::new();
        assert_eq!(assert_send(client.by_ref()).await.unwrap(), "Bearer abc");
        assert_send(client.by_mut()).await.unwrap();
        assert_send(client.typed_ref()).await.unwrap();
        assert_send(client.typed_mut()).await.unwrap();
        assert_send(Pin::new(&mut client).pinned()).await.unwrap();
        let client = assert_send(client.by_value()).await.unwrap();
        let client = assert_send(client.by_mut_value()).await.unwrap();
        let client = assert_send(Box::new(client).boxed()).await.unwrap();
        let client = Arc::new(*client);
        assert_send(client.arc_ref()).await.unwrap();
        let client = assert_send(client.arc()).await.unwrap();
        assert_eq!(client.fetches(), 1);
        let client = Arc::into_inner(client).unwrap();
        Box::pin(client).pinned_box().await.unwrap();
        Rc::new(Client::new()).rc().await.unwrap();
    });
}
