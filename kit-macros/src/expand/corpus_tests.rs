//! The macros never panic: every input, however odd, expands to tokens
//! (compile errors included), and the user's item always comes back.

use proc_macro2::TokenStream;
use quote::quote;

/// Impl blocks and attribute arguments a user might write, well-formed
/// or not.
fn service_corpus() -> Vec<(TokenStream, TokenStream)> {
    let ok_method = quote! {
        #[endpoint(http = "POST /x")]
        async fn x(&self, s: String) -> String { s }
    };
    let items = vec![
        quote!(impl Svc {}),
        quote!(impl Svc { #ok_method }),
        quote!(impl dyn SomeTrait {}),
        quote!(impl dyn SomeTrait { #ok_method }),
        quote!(impl Default for Svc { fn default() -> Self { Svc } }),
        quote!(impl Greet for Svc { #ok_method }),
        quote!(impl<T> Svc<T> { #ok_method }),
        quote!(impl<'a> Svc<'a> { #ok_method }),
        quote!(impl Svc where Svc: Send { #ok_method }),
        quote!(unsafe impl Svc { #ok_method }),
        quote!(impl &'static Svc { #ok_method }),
        quote!(impl [u8] { #ok_method }),
        quote!(impl (A, B) { #ok_method }),
        quote!(impl <Svc as Tr>::Assoc { #ok_method }),
        quote!(impl Svc { fn broken(,) -> { } }),
        quote!(impl Svc { #[endpoint(http = "POST /x")] async fn x(&self) { let = ; } }),
        quote!(impl Svc { some_macro!(); #ok_method }),
        quote!(impl Svc { const N: u32 = 1; type T = u32; #ok_method }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] unsafe fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] const fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] extern "C" fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async unsafe extern "C" fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async fn x<'a>(&'a self, s: &'a str) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async fn x(self: Arc<Self>) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async fn x(self) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async fn x(&mut self) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async fn x() {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async fn x<T>(&self, t: T) where T: Send {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async fn x(&self, (a, b): (u32, u32)) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async fn x(&self, _: u32) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async fn x(&self, ref a: u32) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /x")] async fn x(&self, a: impl Send) {} }),
        quote!(impl Svc { #[endpoint(http = "GET /{a}/{b}")] async fn x(&self, #[body] a: u32) {} }),
        quote!(impl Svc { #[endpoint] async fn x(&self) {} }),
        quote!(impl Svc { #[endpoint()] async fn x(&self) {} }),
        quote!(impl Svc { #[endpoint = "x"] async fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(http)] async fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(http = 5, grpc = 6, retry = "x", timeout = 1)] async fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(http = "")] async fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(http = "POST /x")] #[endpoint(grpc)] async fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(grpc = "")] async fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(grpc = "1bad")] async fn x(&self) {} }),
        quote!(impl Svc { #[endpoint(http = "POST /x", grpc)] async fn connect(&self) {} }),
        quote!(impl Svc { #[endpoint(http = "POST /x")] async fn r#type(&self, r#type: String) {} }),
        quote!(impl Svc { #[endpoint(http = "POST /x", grpc)] async fn x(&self, a1: u8, a2: u8, a3: u8, a4: u8, a5: u8, a6: u8, a7: u8, a8: u8, a9: u8, a10: u8, a11: u8, a12: u8, a13: u8, a14: u8, a15: u8, a16: u8, a17: u8) {} }),
        quote!(impl Svc { #[endpoint(http = "POST /x")] async fn x(&self) -> Result {} }),
        quote!(impl Svc { #[endpoint(http = "POST /x")] async fn x(&self) -> Result<> {} }),
        quote!(impl Svc { #[endpoint(http = "POST /x")] async fn x(&self) -> impl Send {} }),
        quote!(impl Svc { #[endpoint(http = "POST /x")] async fn x(&self, ...) {} }),
        quote!(impl Svc { #[endpoint(http = "POST /x")] async fn a(&self) {} #[endpoint(http = "POST /x")] async fn b(&self) {} }),
    ];
    let args = vec![
        quote!(),
        quote!(name = "svc"),
        quote!(
            name = "svc",
            package = "a.b",
            grpc,
            timeout = "1s",
            retry = 2,
            idempotent
        ),
        quote!(name),
        quote!(name = 1),
        quote!(nmae = "x"),
        quote!(grpc = "Named"),
        quote!(package = "bad package"),
        quote!(timeout = "soon"),
        quote!(,,),
        quote!(= =),
        quote!("just a string"),
    ];
    let mut corpus = Vec::new();
    for item in &items {
        corpus.push((quote!(), item.clone()));
    }
    for a in args {
        corpus.push((a, items[1].clone()));
    }
    // Not impl blocks at all.
    for item in [
        quote!(
            struct Svc;
        ),
        quote!(
            fn f() {}
        ),
        quote!(),
        quote!(impl),
        quote!(impl Svc),
        quote!({}),
        quote!(
            mod m {}
        ),
    ] {
        corpus.push((quote!(), item));
    }
    corpus
}

#[test]
fn service_expands_every_input_without_panicking() {
    for (args, item) in service_corpus() {
        let input = format!("#[kit::service({args})] {item}");
        let out = std::panic::catch_unwind(|| super::service(args.clone(), item.clone()))
            .unwrap_or_else(|_| panic!("panicked on {input}"));
        let text = out.to_string();
        assert!(!text.is_empty(), "no tokens for {input}");
        // The user's item always comes back (stripped of kit's helpers).
        if let Ok(syn::Item::Impl(i)) = syn::parse2::<syn::Item>(item.clone()) {
            let self_ty = &i.self_ty;
            assert!(
                text.contains(&quote!(#self_ty).to_string()),
                "the impl is missing from the expansion of {input}:\n{text}"
            );
        }
    }
}

#[test]
fn helper_attributes_never_survive() {
    for (args, item) in service_corpus() {
        if syn::parse2::<syn::Item>(item.clone()).is_err() {
            continue; // returned as it came, beside syn's error
        }
        let out = super::service(args, item).to_string();
        assert!(!out.contains("# [endpoint"), "{out}");
        assert!(!out.contains("# [body]"), "{out}");
    }
}

#[test]
fn message_expands_every_input_without_panicking() {
    for input in [
        quote!(
            struct A {
                a: u32,
            }
        ),
        quote!(
            struct A;
        ),
        quote!(
            struct A(u32);
        ),
        quote!(
            struct A<T> {
                a: T,
            }
        ),
        quote!(
            struct A {
                #[kit(tag = 0)]
                a: u32,
            }
        ),
        quote!(
            struct A {
                #[kit(tag = 1, tag = 2)]
                a: u32,
            }
        ),
        quote!(
            struct A {
                #[kit(tga = 1)]
                a: u32,
            }
        ),
        quote!(
            struct A {
                #[kit(tag = "x")]
                a: u32,
            }
        ),
        quote!(
            struct A {
                #[kit]
                a: u32,
            }
        ),
        quote!(
            struct A {
                #[kit = 1]
                a: u32,
            }
        ),
        quote!(
            #[kit(name = "B", name = "C")]
            struct A {
                r#type: u32,
            }
        ),
        quote!(
            enum E {}
        ),
        quote!(
            enum E {
                A,
            }
        ),
        quote!(
            enum E {
                A = 1,
            }
        ),
        quote!(
            enum E {
                A = -1,
                B = 0,
            }
        ),
        quote!(
            enum E {
                A = 1 + 1,
            }
        ),
        quote!(
            enum E {
                A(u32),
            }
        ),
        quote!(
            enum E {
                #[kit(tag = 1)]
                A,
            }
        ),
        quote!(union U { a: u32 }),
        quote!(
            fn f() {}
        ),
        quote!(),
    ] {
        let out = std::panic::catch_unwind(|| super::message(input.clone()))
            .unwrap_or_else(|_| panic!("panicked on {input}"));
        let _ = out.to_string();
    }
}
