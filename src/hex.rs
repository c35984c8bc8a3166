//! Bytes as lower-case hexadecimal: SHA-256 digests, random Message-IDs,
//! the instance tag.

/// `[0xab, 0x01]` → `"ab01"`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lower_case_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0xab, 0x0f, 0xff]), "00ab0fff");
        assert_eq!(super::hex(&[]), "");
    }
}
