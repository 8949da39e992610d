//! A tonic codec for [`ProtoMessage`] types.

use std::marker::PhantomData;

use bytes::Buf;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use super::{message, ProtoMessage};

/// Encodes `E` and decodes `D` with kit's protobuf encoding, for tonic.
pub(crate) struct ProtoCodec<E, D> {
    _types: PhantomData<fn(E) -> D>,
}

impl<E, D> Default for ProtoCodec<E, D> {
    fn default() -> Self {
        ProtoCodec {
            _types: PhantomData,
        }
    }
}

impl<E, D> Codec for ProtoCodec<E, D>
where
    E: ProtoMessage + Send + 'static,
    D: ProtoMessage + Send + 'static,
{
    type Encode = E;
    type Decode = D;
    type Encoder = ProtoEncoder<E>;
    type Decoder = ProtoDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        ProtoEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProtoDecoder(PhantomData)
    }
}

/// The encoding half of [`ProtoCodec`].
pub(crate) struct ProtoEncoder<E>(PhantomData<fn(E)>);

impl<E: ProtoMessage> Encoder for ProtoEncoder<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode_fields(dst);
        Ok(())
    }
}

/// The decoding half of [`ProtoCodec`].
pub(crate) struct ProtoDecoder<D>(PhantomData<fn() -> D>);

impl<D: ProtoMessage> Decoder for ProtoDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        let len = src.remaining();
        message::decode::<D>(src.take(len))
            .map(Some)
            .map_err(|e| Status::internal(format!("cannot decode the message: {e}")))
    }
}
