//! Compile-time behaviour of `#[kit::service]`: what compiles, and the one
//! precise error each mistake gets.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
