//! Files that old mailers put uuencoded inside a text body ("begin 644
//! name" … "end"): taken out of the text and kept as attachments.

/// Decodes one uuencoded line; `None` if it is not one.
fn decode_line(line: &str) -> Option<Vec<u8>> {
    let bytes = line.as_bytes();
    let first = *bytes.first()?;
    let len = usize::from(first.wrapping_sub(b' ') & 0x3f);
    let data = &bytes[1..];
    if data.len() < len.div_ceil(3) * 4 {
        return None;
    }
    let mut out = Vec::with_capacity(len + 2);
    for chunk in data.chunks(4).take(len.div_ceil(3)) {
        if chunk.len() < 4 || chunk.iter().any(|c| !(b' '..=b'`').contains(c)) {
            return None;
        }
        let v: Vec<u8> = chunk.iter().map(|c| c.wrapping_sub(b' ') & 0x3f).collect();
        out.push((v[0] << 2) | (v[1] >> 4));
        out.push((v[1] << 4) | (v[2] >> 2));
        out.push((v[2] << 6) | v[3]);
    }
    out.truncate(len);
    Some(out)
}

/// Splits `text` into the text without its uuencoded blocks, and the
/// files those blocks hold (name, bytes). A block that does not decode
/// cleanly is left in the text.
pub fn extract(text: &str) -> (String, Vec<(String, Vec<u8>)>) {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut kept: Vec<&str> = Vec::with_capacity(lines.len());
    let mut files = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end_matches('\r');
        let header = line.strip_prefix("begin ").and_then(|rest| {
            let (mode, name) = rest.split_once(' ')?;
            (mode.len() == 3
                && mode.chars().all(|c| ('0'..='7').contains(&c))
                && !name.trim().is_empty())
            .then(|| name.trim().to_string())
        });
        if let Some(name) = header {
            let mut content = Vec::new();
            let mut j = i + 1;
            let mut ok = false;
            while j < lines.len() {
                let l = lines[j].trim_end_matches('\r');
                if l == "end" {
                    ok = true;
                    break;
                }
                match decode_line(l) {
                    Some(bytes) => content.extend(bytes),
                    None if l.is_empty() => {}
                    None => break,
                }
                j += 1;
            }
            if ok {
                files.push((name, content));
                i = j + 1;
                continue;
            }
        }
        kept.push(lines[i]);
        i += 1;
    }
    (kept.join("\n"), files)
}

/// Whether a `Content-Transfer-Encoding` names uuencoding (a non-standard
/// value some mailers still write).
pub fn is_transfer_encoding(cte: &str) -> bool {
    matches!(
        cte.trim().to_ascii_lowercase().as_str(),
        "x-uuencode" | "uuencode" | "x-uue" | "uue"
    )
}

/// The bytes of a MIME part sent with a uuencode transfer encoding: its
/// first "begin … end" block, or `None` when it holds none that decodes.
pub fn decode_part(contents: &[u8]) -> Option<Vec<u8>> {
    let (_, mut files) = extract(&String::from_utf8_lossy(contents));
    (!files.is_empty()).then(|| files.swap_remove(0).1)
}

#[cfg(test)]
mod tests {
    use super::extract;

    #[test]
    fn a_block_becomes_a_file() {
        // "Cat" uuencoded.
        let text = "Voici le fichier.\nbegin 644 chat.txt\n#0V%T\n`\nend\nMerci.";
        let (body, files) = extract(text);
        assert_eq!(body, "Voici le fichier.\nMerci.");
        assert_eq!(files, vec![("chat.txt".to_string(), b"Cat".to_vec())]);
    }

    #[test]
    fn prose_starting_with_begin_is_kept() {
        let text = "begin the work monday\nend";
        assert_eq!(extract(text).0, text);
        let broken = "begin 644 x.txt\nnot uuencoded at all !\nend";
        assert_eq!(extract(broken).0, broken);
    }
}
