//! The typed client `<Type>Client`: one async method per endpoint, each
//! encoding its arguments and handing the call to the runtime's client.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::http::{url_param, wire};
use crate::model::{Endpoint, Service, Source};
use crate::route::Segment;

pub fn expand(service: &Service) -> TokenStream {
    let self_ty = &service.self_ty;
    let client = format_ident!("{}Client", service.type_ident);
    let doc = format!(
        "Typed client of [`{}`] (service `{}`): one async method per endpoint, with the endpoint's timeout, retries, trace propagation and metrics.",
        service.type_ident, service.name
    );
    let methods = service
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| method(service, i, e));
    quote! {
        #[doc = #doc]
        #[derive(Clone)]
        pub struct #client {
            inner: ::kit::__private::Client,
        }

        impl ::core::convert::From<::kit::__private::Client> for #client {
            fn from(inner: ::kit::__private::Client) -> Self {
                #client { inner }
            }
        }

        impl #client {
            /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`).
            /// Connections are made, and pooled, on first use.
            pub async fn connect(base_url: impl ::core::convert::AsRef<str>) -> ::core::result::Result<Self, ::kit::Error> {
                Self::builder().base_url(base_url.as_ref()).build()
            }

            /// A builder for base URLs, timeout, retry and connection settings.
            pub fn builder() -> ::kit::client::ClientBuilder<Self> {
                ::kit::client::ClientBuilder::new(<#self_ty as ::kit::Service>::DESCRIPTOR)
            }

            #(#methods)*
        }
    }
}

fn method(service: &Service, index: usize, e: &Endpoint) -> TokenStream {
    let ident = &e.ident;
    let grpc = grpc_call(service, index, e);
    let http = match &e.route {
        Some(_) => http_call(index, e),
        None => {
            let msg = format!("{}.{} is served over gRPC only; build the client with .transport(kit::Transport::Grpc)", service.name, e.ident);
            quote!(::core::result::Result::Err(::kit::Error::unimplemented(#msg)))
        }
    };
    let docs = &e.docs;
    let ok = &e.output.ok;
    let params: Vec<_> = e
        .args
        .iter()
        .filter(|a| a.source != Source::Context)
        .map(|a| {
            let (i, t) = (&a.ident, &a.ty);
            quote!(#i: #t)
        })
        .collect();

    quote! {
        #[doc = #docs]
        pub async fn #ident(&self, #(#params),*) -> ::core::result::Result<#ok, ::kit::Error> {
            if self.inner.is_grpc() {
                #grpc
            } else {
                #http
            }
        }
    }
}

fn grpc_call(service: &Service, index: usize, e: &Endpoint) -> TokenStream {
    let Some(t) = super::grpc::types(service, e) else {
        let msg = format!("{}.{} is served over HTTP only", service.name, e.ident);
        return quote!(::core::result::Result::Err(::kit::Error::unimplemented(#msg)));
    };
    let build = match &t.request_struct {
        Some(ident) => {
            let names = super::grpc::wire_args(e).map(|a| &a.ident);
            quote!(#ident { #(#names),* })
        }
        None => {
            let name = super::grpc::wire_args(e).map(|a| &a.ident);
            quote!(#(#name)*)
        }
    };
    let response = &t.response;
    let unwrap = if t.unit {
        quote!(::core::result::Result::Ok(()))
    } else if t.wrapped {
        quote!(::core::result::Result::Ok(__resp.value))
    } else {
        quote!(::core::result::Result::Ok(__resp))
    };
    quote! {
        let __req = #build;
        let __bytes = ::kit::__private::Bytes::from(::kit::__private::proto::encode_to_vec(&__req));
        let __resp: #response = ::kit::__private::proto::decode_response::<#response>(self.inner.call_grpc(#index, __bytes).await?)?;
        #unwrap
    }
}

fn http_call(index: usize, e: &Endpoint) -> TokenStream {
    let Some(route) = &e.route else {
        return quote!();
    };
    let mut path = Vec::new();
    for seg in &route.segments {
        match seg {
            Segment::Literal(l) => path.push(quote!(__path.push_str(#l);)),
            Segment::Param(p) => {
                let arg = e.args.iter().find(|a| a.ident == p.as_str());
                if let Some(arg) = arg {
                    let (i, t) = (&arg.ident, url_param(&arg.ty));
                    path.push(quote!(::kit::__private::push_path_param::<#t>(&mut __path, &#i);));
                }
            }
        }
    }
    let mut query = Vec::new();
    for arg in &e.args {
        let (i, name) = (&arg.ident, arg.ident.to_string());
        match arg.source {
            Source::Query { optional: false } => {
                let t = url_param(&arg.ty);
                query.push(quote!(__query.push::<#t>(#name, &#i);));
            }
            Source::Query { optional: true } => {
                let t = url_param(crate::parse::option_inner(&arg.ty).unwrap_or(&arg.ty));
                query.push(quote!(if let ::core::option::Option::Some(__v) = &#i { __query.push::<#t>(#name, __v); }));
            }
            _ => {}
        }
    }
    let query = if query.is_empty() {
        quote!()
    } else {
        quote! {{
            let mut __query = ::kit::__private::QueryWriter::new(&mut __path);
            #(#query)*
        }}
    };

    let fields: Vec<_> = e
        .args
        .iter()
        .filter(|a| a.source == Source::BodyField)
        .collect();
    let whole = e.args.iter().find(|a| a.source == Source::Body);
    let body = if let Some(arg) = whole {
        let (i, codec) = (&arg.ident, wire(&arg.ty));
        quote!(::core::option::Option::Some(#codec.body(&#i)?))
    } else if !fields.is_empty() {
        let adds = fields.iter().map(|a| {
            let (i, name, codec) = (&a.ident, a.ident.to_string(), wire(&a.ty));
            quote!(.field(#name, #codec, &#i)?)
        });
        quote!(::core::option::Option::Some(::kit::__private::JsonObject::new() #(#adds)* .finish()))
    } else if route.method.has_body() {
        quote!(::core::option::Option::Some(
            ::kit::__private::Bytes::from_static(b"{}")
        ))
    } else {
        quote!(::core::option::Option::None)
    };
    let ok = &e.output.ok;
    let codec = wire(ok);
    quote! {
        let mut __path = ::std::string::String::new();
        #(#path)*
        #query
        let __body = #body;
        self.inner
            .call(#index, ::kit::__private::HttpCall { path_and_query: __path, body: __body }, #codec)
            .await
    }
}
