//! Messages as values: whole-message encode and decode, and the
//! length-delimited encoding of a message inside another.

use bytes::{Buf, BufMut};
use prost::encoding::{
    decode_key, decode_varint, encode_varint, encoded_len_varint, skip_field, DecodeContext,
};

use super::{DecodeError, Depth, ProtoMessage};

/// Encodes `msg` as a top-level message.
pub fn encode_to_vec<M: ProtoMessage>(msg: &M) -> Vec<u8> {
    let mut buf = Vec::with_capacity(msg.fields_len());
    msg.encode_fields(&mut buf);
    buf
}

/// Decodes a top-level message from all of `buf`.
pub fn decode<M: ProtoMessage>(mut buf: impl Buf) -> Result<M, DecodeError> {
    let mut msg = M::proto_new();
    merge_fields(&mut msg, &mut buf, Depth::default())?;
    Ok(msg)
}

/// Merges fields from `buf` until it is empty.
pub(crate) fn merge_fields<M: ProtoMessage>(
    msg: &mut M,
    buf: &mut impl Buf,
    depth: Depth,
) -> Result<(), DecodeError> {
    while buf.has_remaining() {
        let (tag, wire_type) = decode_key(buf)?;
        msg.merge_field(tag, wire_type, buf, depth)?;
    }
    Ok(())
}

/// Skips a field this message does not know (forward compatibility).
#[doc(hidden)]
pub fn skip_unknown(
    tag: u32,
    wire_type: prost::encoding::WireType,
    buf: &mut impl Buf,
) -> Result<(), DecodeError> {
    skip_field(wire_type, tag, buf, DecodeContext::default()).map_err(Into::into)
}

/// Writes `msg` as a length-delimited value.
pub(crate) fn encode_value<M: ProtoMessage>(msg: &M, buf: &mut impl BufMut) {
    encode_varint(msg.fields_len() as u64, buf);
    msg.encode_fields(buf);
}

/// The length of [`encode_value`]'s output.
pub(crate) fn value_len<M: ProtoMessage>(msg: &M) -> usize {
    let len = msg.fields_len();
    encoded_len_varint(len as u64) + len
}

/// Merges a length-delimited message value into `msg`.
///
/// Reads from `buf` itself up to the end of the value (as prost does)
/// rather than through a `Take`, so recursive message types do not make
/// the compiler instantiate ever-deeper buffer types.
pub(crate) fn merge_value<M: ProtoMessage>(
    msg: &mut M,
    buf: &mut impl Buf,
    depth: Depth,
) -> Result<(), DecodeError> {
    let depth = depth.enter()?;
    let end = delimited_end(buf)?;
    while buf.remaining() > end {
        let (tag, wire_type) = decode_key(buf)?;
        msg.merge_field(tag, wire_type, buf, depth)?;
    }
    check_end(buf, end)
}

/// Reads a length prefix; returns what `buf.remaining()` will be at the
/// end of the value.
pub(crate) fn delimited_end(buf: &mut impl Buf) -> Result<usize, DecodeError> {
    let len =
        usize::try_from(decode_varint(buf)?).map_err(|_| DecodeError::new("length overflows"))?;
    buf.remaining()
        .checked_sub(len)
        .ok_or_else(|| DecodeError::new("buffer underflow"))
}

/// Checks a delimited value ended exactly where its length said.
pub(crate) fn check_end(buf: &impl Buf, end: usize) -> Result<(), DecodeError> {
    if buf.remaining() == end {
        Ok(())
    } else {
        Err(DecodeError::new("delimited length exceeded"))
    }
}
