//! winmail.dat (TNEF, `application/ms-tnef`): Outlook wraps a mail's files
//! in it when it sends "rich text". The files inside are unpacked with the
//! `tnef` crate; the winmail.dat itself is kept too, so nothing is lost
//! when a stream is one the crate cannot read.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Whether an attachment is a TNEF stream, by its type or its usual name.
pub fn is_tnef(content_type: &str, filename: &str) -> bool {
    content_type.eq_ignore_ascii_case("application/ms-tnef")
        || content_type.eq_ignore_ascii_case("application/vnd.ms-tnef")
        || filename.eq_ignore_ascii_case("winmail.dat")
}

/// The files inside a TNEF stream (name, bytes); none when it holds none
/// or cannot be read, whatever the reader does with odd bytes.
pub fn unpack(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    catch_unwind(AssertUnwindSafe(|| {
        tnef::read_attachments(data)
            .map(|files| {
                files
                    .into_iter()
                    .map(|a| {
                        let name = a
                            .transport_filename
                            .filter(|n| !n.trim().is_empty())
                            .unwrap_or(a.title);
                        (name, a.data.to_vec())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_no_file_and_no_panic() {
        assert!(unpack(b"").is_empty());
        assert!(unpack(b"\x78\x9f\x3e\x22\x00\x00\x01\x06\x90\x08\x00\xff\xff").is_empty());
        assert!(is_tnef("application/ms-tnef", "x.bin"));
        assert!(is_tnef("application/octet-stream", "WINMAIL.DAT"));
        assert!(!is_tnef("application/pdf", "devis.pdf"));
    }

    #[test]
    fn a_stream_cut_after_its_header_is_no_file() {
        // Signature, version and code page: valid, then cut short.
        let start = b"\x78\x9f\x3e\x22\x21\x4a\
            \x01\x06\x90\x08\x00\x04\x00\x00\x00\x00\x00\x01\x00\x01\x00\
            \x01\x07\x90\x06\x00\x08\x00\x00\x00\xe4\x04\x00\x00\x00\x00\x00\x00\xe8\x00";
        assert!(tnef::TnefReader::new(start).is_ok());
        assert!(unpack(start).is_empty());
        let mut cut = start.to_vec();
        cut.extend_from_slice(b"\x02\x02\x90\x06\x00\x0e\x00\x00\x00\x01");
        assert!(unpack(&cut).is_empty());
    }
}
