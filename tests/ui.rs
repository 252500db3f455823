//! Compile-time behaviour of `#[refresh_token]`: what it accepts
//! (`tests/pass`) and how it reports misuse (`tests/ui`).
//!
//! Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test --test ui`, then read every `.stderr`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/pass/*.rs");
}
