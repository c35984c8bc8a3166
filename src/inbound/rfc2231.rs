//! File names split and encoded by RFC 2231 (`filename*0*=iso-8859-1''…;
//! filename*1*=…`), read again from the raw header when the parser got
//! them wrong: the charset named in the first segment applies to every
//! encoded segment (RFC 2231 section 4.1).

/// The `filename` (Content-Disposition) or `name` (Content-Type) parameter
/// of a raw header value, put back together and decoded; `None` when the
/// header has no RFC 2231 form of it or its charset is unknown.
pub fn filename(raw_value: &str) -> Option<String> {
    ["filename", "name"]
        .into_iter()
        .find_map(|param| parameter(raw_value, param))
}

fn parameter(raw_value: &str, param: &str) -> Option<String> {
    // (segment number, encoded, value)
    let mut segments: Vec<(u32, bool, String)> = Vec::new();
    for item in parameters(raw_value).into_iter().skip(1) {
        let Some((key, value)) = item.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let Some(rest) = key.strip_prefix(param).and_then(|r| r.strip_prefix('*')) else {
            continue;
        };
        let (number, encoded) = match rest {
            "" => (0, true),
            r => match r.strip_suffix('*') {
                Some(n) => (n.parse().ok()?, true),
                None => (r.parse().ok()?, false),
            },
        };
        let value = value.trim().trim_matches('"').to_string();
        segments.push((number, encoded, value));
    }
    if segments.is_empty() {
        return None;
    }
    segments.sort_by_key(|(n, _, _)| *n);
    let mut charset = "us-ascii".to_string();
    let mut bytes = Vec::new();
    for (i, (_, encoded, value)) in segments.iter().enumerate() {
        let mut value = value.as_str();
        if i == 0 && *encoded {
            let mut parts = value.splitn(3, '\'');
            let (Some(cs), Some(_lang), Some(v)) = (parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            charset = cs.to_string();
            value = v;
        }
        if *encoded {
            bytes.extend(percent_decode(value));
        } else {
            bytes.extend_from_slice(value.as_bytes());
        }
    }
    let encoding = encoding_rs::Encoding::for_label(charset.trim().as_bytes())?;
    let (text, _, _) = encoding.decode(&bytes);
    Some(text.into_owned())
}

/// The `;`-separated parts of a header value, a `;` inside quotes not
/// being a separator.
fn parameters(raw_value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in raw_value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(&raw_value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&raw_value[start..]);
    parts
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_segments_put_together() {
        let raw = "attachment;\r\n filename*0*=ISO-8859-1''Devis%20r%E9paration%20;\r\n filename*1*=copieur%20secr%E9tariat.pdf";
        assert_eq!(
            filename(raw).as_deref(),
            Some("Devis réparation copieur secrétariat.pdf")
        );
    }

    #[test]
    fn plain_continuations_and_single_values() {
        let raw = "attachment; filename*0=\"rapport \"; filename*1=\"annuel.pdf\"";
        assert_eq!(filename(raw).as_deref(), Some("rapport annuel.pdf"));
        let raw = "application/pdf; name*=utf-8''r%C3%A9sum%C3%A9.pdf";
        assert_eq!(filename(raw).as_deref(), Some("résumé.pdf"));
        assert_eq!(filename("attachment; filename=\"a.pdf\""), None);
        let raw = "attachment; filename*0=\"compte; rendu \"; filename*1=\"du 3.pdf\"";
        assert_eq!(filename(raw).as_deref(), Some("compte; rendu du 3.pdf"));
        assert_eq!(filename("attachment; filename*=x-unknown''a%E9"), None);
    }
}
