//! Where and why a protobuf encoding is broken, for a message the decoder
//! refused: walks the wire format with the message's descriptor, so the
//! error names the field (by name when the message declares it) and the
//! byte offset. Runs only after a decode failed, never on the way of a
//! message that decodes.

use protobuf::reflect::{MessageDescriptor, RuntimeFieldType, RuntimeType};

/// The largest field number protobuf allows.
const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;
/// How deep nested messages and groups are followed, as the decoder's own
/// recursion limit.
const MAX_DEPTH: usize = 100;

/// The first fault in `bytes` as an encoding of `message`, e.g.
/// "field `name` (1): invalid UTF-8 at byte 3"; None when the walk finds
/// nothing wrong.
pub fn first_fault(bytes: &[u8], message: &MessageDescriptor) -> Option<String> {
    let mut walk = Walk { bytes, at: 0 };
    walk.message(Some(message), bytes.len(), "", 0, None).err()
}

/// A position in the bytes being walked.
struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// What a field's bytes must be, beyond their wire type.
enum Content {
    Text,
    Message(MessageDescriptor),
    Other,
}

impl Walk<'_> {
    /// Walks fields until `end` (or, inside a group, its end-group key).
    fn message(
        &mut self,
        message: Option<&MessageDescriptor>,
        end: usize,
        path: &str,
        depth: usize,
        group: Option<u64>,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "nested more than {MAX_DEPTH} levels deep at byte {}",
                self.at
            ));
        }
        while self.at < end {
            let key_at = self.at;
            let key = self
                .varint(end)
                .map_err(|why| format!("field key at byte {key_at}: {why}"))?;
            let number = key >> 3;
            let field = message.and_then(|m| {
                u32::try_from(number)
                    .ok()
                    .and_then(|n| m.field_by_number(n))
            });
            let name = match &field {
                Some(field) => format!("field `{path}{}` ({number})", field.name()),
                None => format!("field {path}{number}"),
            };
            if number == 0 || number > MAX_FIELD_NUMBER {
                return Err(format!("{name} at byte {key_at}: no such field number"));
            }
            let fault = |why: String| format!("{name} at byte {key_at}: {why}");
            match key & 7 {
                0 => {
                    self.varint(end).map_err(fault)?;
                }
                1 => self.skip(8, end).map_err(fault)?,
                5 => self.skip(4, end).map_err(fault)?,
                2 => {
                    let length = self.varint(end).map_err(fault)?;
                    let start = self.at;
                    let length = usize::try_from(length).unwrap_or(usize::MAX);
                    self.skip(length, end).map_err(fault)?;
                    let content = field
                        .as_ref()
                        .map_or(Content::Other, |f| content(f.runtime_field_type()));
                    match content {
                        Content::Text => {
                            if let Err(error) = std::str::from_utf8(&self.bytes[start..self.at]) {
                                let bad = start + error.valid_up_to();
                                return Err(format!("{name}: invalid UTF-8 at byte {bad}"));
                            }
                        }
                        Content::Message(nested) => {
                            let inner_path = match &field {
                                Some(field) => format!("{path}{}.", field.name()),
                                None => path.to_string(),
                            };
                            let after = self.at;
                            self.at = start;
                            self.message(Some(&nested), after, &inner_path, depth + 1, None)?;
                        }
                        Content::Other => {}
                    }
                }
                3 => {
                    self.message(None, end, path, depth + 1, Some(number))?;
                }
                4 => {
                    return match group {
                        Some(open) if open == number => Ok(()),
                        _ => Err(fault("an end-group key with no group open".into())),
                    };
                }
                other => return Err(fault(format!("wire type {other} does not exist"))),
            }
        }
        match group {
            Some(open) => Err(format!(
                "group {open} is truncated: no end-group key before byte {end}"
            )),
            None => Ok(()),
        }
    }

    /// Reads a varint that must end before `end`.
    fn varint(&mut self, end: usize) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in 0..10 {
            let Some(&byte) = self.bytes.get(self.at).filter(|_| self.at < end) else {
                return Err("truncated varint".into());
            };
            self.at += 1;
            value |= u64::from(byte & 0x7f) << (7 * shift);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 10 bytes".into())
    }

    /// Skips `count` bytes that must end before `end`.
    fn skip(&mut self, count: usize, end: usize) -> Result<(), String> {
        let left = end - self.at;
        if count > left {
            return Err(format!("truncated: {count} bytes declared, {left} left"));
        }
        self.at += count;
        Ok(())
    }
}

/// What a field of this type must hold when length-delimited.
fn content(field_type: RuntimeFieldType) -> Content {
    match field_type {
        RuntimeFieldType::Singular(RuntimeType::String)
        | RuntimeFieldType::Repeated(RuntimeType::String) => Content::Text,
        RuntimeFieldType::Singular(RuntimeType::Message(nested))
        | RuntimeFieldType::Repeated(RuntimeType::Message(nested)) => Content::Message(nested),
        _ => Content::Other,
    }
}

#[cfg(test)]
mod tests {
    use protobuf::MessageFull;

    use super::first_fault;
    use crate::proto::entities::{CreateEntityRequest, GetEntityRequest};
    use crate::proto::reflection_v1::ServerReflectionRequest;

    fn fault_of<M: MessageFull>(bytes: &[u8]) -> Option<String> {
        first_fault(bytes, &M::descriptor())
    }

    #[test]
    fn names_the_field_and_the_byte() {
        let cases: [(&[u8], &str); 8] = [
            (
                &[0x0a, 0x02, 0xff, 0xfe],
                "field `name` (1): invalid UTF-8 at byte 2",
            ),
            (
                &[0x0a, 0x01, b'a', 0x12, 0x02, b'b', 0xc3],
                "field `description` (2): invalid UTF-8 at byte 6",
            ),
            (
                &[0x0a, 0x05, b'a'],
                "field `name` (1) at byte 0: truncated: 5 bytes declared, 1 left",
            ),
            (&[0x0a], "field `name` (1) at byte 0: truncated varint"),
            (&[0x80], "field key at byte 0: truncated varint"),
            (
                &[0x1f, 0x00],
                "field 3 at byte 0: wire type 7 does not exist",
            ),
            (
                &[0x0c],
                "field `name` (1) at byte 0: an end-group key with no group open",
            ),
            (&[0x00], "field 0 at byte 0: no such field number"),
        ];
        for (bytes, expected) in cases {
            let fault = fault_of::<CreateEntityRequest>(bytes);
            assert_eq!(fault.as_deref(), Some(expected), "{bytes:02x?}");
        }
    }

    #[test]
    fn finds_nothing_in_valid_encodings_with_unknown_fields_and_groups() {
        // An unknown varint field, an unknown group holding a string, then name.
        let bytes = [0x28, 0x05, 0x33, 0x0a, 0x01, 0xff, 0x34, 0x0a, 0x01, b'n'];
        assert_eq!(fault_of::<CreateEntityRequest>(&bytes), None);
        assert_eq!(fault_of::<GetEntityRequest>(&[0x08, 0x96, 0x01]), None);
    }

    #[test]
    fn follows_nested_messages() {
        // file_containing_extension (5) { containing_type (1): not UTF-8 }
        let bytes = [0x2a, 0x03, 0x0a, 0x01, 0xff];
        let fault = fault_of::<ServerReflectionRequest>(&bytes);
        assert_eq!(
            fault.as_deref(),
            Some("field `file_containing_extension.containing_type` (1): invalid UTF-8 at byte 4")
        );
    }
}
