//! Request bodies within the request deadline and a size cap that fits the route.
//!
//! The idle timeout alone let a body arrive a byte every few seconds for hours, holding its
//! connection slot the whole time. Every body a listener hands to its router is therefore
//! [`Timed`]: once the request deadline has passed, reading it fails, whoever reads it.
//! [`read_body`] is the one way routes read a body: whole, up to the route's cap, before the
//! handler runs; it tells the caller why it could not, so that the caller answers 408 or 413
//! in its own shape. The unread rest of a refused body is dropped with the request, and
//! hyper then closes the connection after the answer instead of waiting for it.

use axum::BoxError;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};

/// Why a request body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// It is (or announced it would be) longer than `cap` bytes: 413.
    TooLarge { cap: usize },
    /// It had not arrived whole when the request deadline passed: 408.
    TooSlow,
    /// The client broke it off or sent a malformed chunk: 400.
    Broken,
}

/// The error a [`Timed`] body fails with once its deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive before the request deadline")]
struct DeadlinePassed;

/// Reads `request`'s body whole, at most `cap` bytes, and gives the request back with the
/// body in memory. A `Content-Length` over `cap` is refused before a byte is read.
pub async fn read_body(request: Request, cap: usize) -> Result<Request, BodyRefusal> {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > u64::try_from(cap).unwrap_or(u64::MAX)) {
        return Err(BodyRefusal::TooLarge { cap });
    }
    let (parts, mut body) = request.into_parts();
    let mut whole = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| {
            if e.into_inner().is::<DeadlinePassed>() {
                BodyRefusal::TooSlow
            } else {
                BodyRefusal::Broken
            }
        })?;
        // Trailers, the only other kind of frame, are of no use to any route.
        if let Ok(data) = frame.into_data() {
            if whole.len() + data.len() > cap {
                return Err(BodyRefusal::TooLarge { cap });
            }
            whole.extend_from_slice(&data);
        }
    }
    Ok(Request::from_parts(parts, Body::from(whole)))
}

/// A request body that fails with [`DeadlinePassed`] once `deadline` has passed.
pub(super) struct Timed<B> {
    inner: B,
    deadline: Pin<Box<Sleep>>,
}

impl<B> Timed<B> {
    pub(super) fn new(inner: B, deadline: Instant) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }
}

impl<B> HttpBody for Timed<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // The deadline first: a body trickling in as fast as it is read is still cut.
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(DeadlinePassed))));
        }
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map(|frame| frame.map(|f| f.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
