#[proc_macro_attribute] pub fn refresh_token(_a: proc_macro::TokenStream, i: proc_macro::TokenStream) -> proc_macro::TokenStream { i }
