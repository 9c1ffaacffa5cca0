//! The UnixFS `Data` message inside a dag-pb node's Data (boxo ipld/unixfs/pb/unixfs.proto):
//! `Type` (1), `Data` (2), `filesize` (3), `blocksizes` (4, repeated); other fields
//! (hashType, fanout, mode, mtime) are skipped.

use crate::cid::read_varint;

/// `Data.DataType` Raw.
pub(crate) const RAW: u64 = 0;
/// `Data.DataType` Directory.
pub(crate) const DIRECTORY: u64 = 1;
/// `Data.DataType` File.
pub(crate) const FILE: u64 = 2;

/// A decoded UnixFS `Data` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Data {
    /// `Type`.
    pub kind: u64,
    /// `Data` (file bytes held by this node), if present.
    pub data: Option<Vec<u8>>,
}

/// Decodes a UnixFS `Data` message; `None` when it is not well-formed protobuf or has no
/// `Type` (proto2 `required`).
pub(crate) fn parse(b: &[u8]) -> Option<Data> {
    let (mut kind, mut data) = (None, None);
    let mut rest = b;
    while !rest.is_empty() {
        let (key, r) = read_varint(rest)?;
        let (field, wire) = (key >> 3, key & 7);
        rest = match wire {
            0 => {
                let (v, r) = read_varint(r)?;
                if field == 1 {
                    kind = Some(v);
                }
                r
            }
            2 => {
                let (len, r) = read_varint(r)?;
                let len = usize::try_from(len).ok()?;
                let body = r.get(..len)?;
                if field == 2 {
                    data = Some(body.to_vec());
                }
                &r[len..]
            }
            5 => r.get(4..)?,
            1 => r.get(8..)?,
            _ => return None,
        };
    }
    Some(Data { kind: kind?, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_and_file_messages() {
        assert_eq!(
            parse(&[0x08, 0x01]),
            Some(Data {
                kind: DIRECTORY,
                data: None
            })
        );
        // {Type=File, Data="hi", filesize=2}
        assert_eq!(
            parse(&[0x08, 0x02, 0x12, 0x02, b'h', b'i', 0x18, 0x02]),
            Some(Data {
                kind: FILE,
                data: Some(b"hi".to_vec())
            })
        );
        assert_eq!(parse(&[0x12, 0x00]), None);
    }
}
