//! The bus's wire format: one version byte, then the value in MessagePack (rmp-serde, structs
//! as arrays), so a trade costs about 30 bytes and a reader can refuse a format it does not
//! know instead of misreading it.
//!
//! A reader accepts exactly [`WIRE_VERSION`]: every host of a deployment runs the same build.
//! Changing a wire type in a way older readers cannot decode means raising the version.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The format version this build writes and reads.
pub const WIRE_VERSION: u8 = 2;

/// A message that could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodecError {
    /// The payload had no bytes at all.
    #[error(
        "empty {what} message: expected a version byte and a MessagePack body; was it published by something other than tradehost?"
    )]
    Empty {
        /// What kind of message was expected.
        what: &'static str,
    },
    /// The first byte names a format this build does not read.
    #[error(
        "{what} message in bus format v{found}, this build reads v{supported}: run the same tradehost version on every host"
    )]
    Version {
        /// What kind of message was expected.
        what: &'static str,
        /// The version byte found.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// The body is not a valid value of the expected type.
    #[error("malformed {what} message ({len} bytes): {reason}")]
    Malformed {
        /// What kind of message was expected.
        what: &'static str,
        /// Length of the whole payload.
        len: usize,
        /// The decoder's message.
        reason: String,
    },
    /// A value could not be encoded (a bug: every wire type is serialisable).
    #[error("cannot encode {what} message: {reason}")]
    Encode {
        /// What kind of message.
        what: &'static str,
        /// The encoder's message.
        reason: String,
    },
}

/// `value` as a bus payload.
pub fn encode<T: Serialize + ?Sized>(what: &'static str, value: &T) -> Result<Bytes, CodecError> {
    let mut buf = Vec::with_capacity(64);
    buf.push(WIRE_VERSION);
    rmp_serde::encode::write(&mut buf, value).map_err(|e| CodecError::Encode {
        what,
        reason: e.to_string(),
    })?;
    Ok(Bytes::from(buf))
}

/// A bus payload as a `T`; `what` names the kind of message in errors.
pub fn decode<T: DeserializeOwned>(what: &'static str, payload: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = payload.split_first().ok_or(CodecError::Empty { what })?;
    if version != WIRE_VERSION {
        return Err(CodecError::Version {
            what,
            found: version,
            supported: WIRE_VERSION,
        });
    }
    let malformed = |reason: String| CodecError::Malformed {
        what,
        len: payload.len(),
        reason,
    };
    let mut rest = body;
    let value = T::deserialize(&mut rmp_serde::Deserializer::new(&mut rest))
        .map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        let rest = rest.len();
        return Err(malformed(format!("{rest} bytes left after the value")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{OrderKind, OrderRequest, PluginAction, Side};

    fn action() -> PluginAction {
        PluginAction::Place(OrderRequest {
            symbol: "SPY".into(),
            side: Side::Buy,
            quantity: 10.0,
            kind: OrderKind::Limit(170.25),
            tag: 7,
        })
    }

    #[test]
    fn values_round_trip_behind_a_version_byte() {
        let bytes = encode("order", &action()).unwrap();
        assert_eq!(bytes[0], WIRE_VERSION);
        assert_eq!(decode::<PluginAction>("order", &bytes).unwrap(), action());
    }

    #[test]
    fn bad_payloads_are_refused_with_what_is_wrong() {
        let good = encode("order", &action()).unwrap();
        let mut other_version = good.to_vec();
        other_version[0] = 9;
        let mut trailing = good.to_vec();
        trailing.push(0xc0);
        // TC: (payload, words the error must contain)
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty order message"),
            (other_version, "bus format v9, this build reads v2"),
            (good[..good.len() - 3].to_vec(), "malformed order message"),
            (trailing, "1 bytes left"),
            (
                [&[WIRE_VERSION][..], b"{\"json\":1}"].concat(),
                "malformed order message",
            ),
        ];
        for (payload, words) in cases {
            let e = decode::<PluginAction>("order", &payload).unwrap_err();
            assert!(e.to_string().contains(words), "{payload:?}: {e}");
        }
    }
}
