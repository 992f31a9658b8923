//! Reading an answer's body with a bound, chunk by chunk.

use crate::size::ByteSize;
use bytes::Bytes;

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Larger than the bound: refused, and the rest never read.
    #[error("the answer is larger than {limit}{}", declared.map(|n| format!(" (it declared {n} bytes)")).unwrap_or_default())]
    TooLarge {
        /// The bound.
        limit: ByteSize,
        /// The size the server declared in Content-Length, when it did.
        declared: Option<u64>,
    },
    /// The connection failed or the request's timeout ran out while reading.
    #[error(transparent)]
    Network(#[from] reqwest::Error),
}

/// The whole body of `response`, if it is at most `limit`: a declared
/// Content-Length over the bound is refused before reading, and an
/// undeclared one as soon as the bytes read pass it, so that an oversized
/// answer is never held whole. Dropping the response closes its connection.
pub async fn read_bounded(
    mut response: reqwest::Response,
    limit: ByteSize,
) -> Result<Bytes, BodyError> {
    let declared = response.content_length();
    if declared.is_some_and(|n| n > limit.get()) {
        return Err(BodyError::TooLarge { limit, declared });
    }
    // Reserve what was declared (within the bound), else a modest start;
    // grow by doubling, but never past the bound, so that memory stays
    // within it however the answer arrives.
    let mut body = Vec::with_capacity(declared.unwrap_or(8 * 1024) as usize);
    while let Some(chunk) = response.chunk().await? {
        let needed = body.len() + chunk.len();
        if needed as u64 > limit.get() {
            return Err(BodyError::TooLarge { limit, declared });
        }
        if needed > body.capacity() {
            let grown = (body.capacity() * 2).max(needed).min(limit.get() as usize);
            body.reserve_exact(grown - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}
