//! Panics in handlers: caught, logged, answered as INTERNAL; the
//! connection and the process keep serving.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use crate::descriptor::EndpointDescriptor;
use crate::Error;

/// Runs `call`; a panic inside it becomes `Err(INTERNAL)` and an error log
/// line naming the endpoint and the panic message (which the caller does
/// not see).
pub async fn catch_panic<T, F>(endpoint: &EndpointDescriptor, call: F) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    match AssertUnwindSafe(call).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            tracing::error!(
                service = endpoint.service,
                endpoint = endpoint.name,
                panic = %panic_message(&*panic),
                "handler panicked"
            );
            Err(Error::internal("the handler panicked"))
        }
    }
}

/// The text of a panic payload, if it has one.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}
