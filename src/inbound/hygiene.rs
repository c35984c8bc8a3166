//! What a stranger controls in a header, made safe to store, to show in a
//! notice and to write back into a header: display names, subjects and
//! file names lose the characters that forge lines (controls, CR/LF) or
//! reorder what a reader sees (Unicode format characters, the bidi
//! overrides among them), and their length is capped.

/// The longest display name kept, in characters.
pub const NAME_CHARS: usize = 100;
/// The longest subject kept, in characters: beyond it, nobody reads it,
/// and a ticket's subject comes back in every mail's header.
pub const SUBJECT_CHARS: usize = 250;
/// The longest file name kept, in bytes (what file systems allow).
pub const FILENAME_BYTES: usize = 255;

/// Unicode general category Cf (format characters), as of Unicode 15:
/// soft hyphen, Arabic number signs, the zero-width characters, the
/// bidirectional marks, embeddings, overrides and isolates, the word
/// joiner and invisible operators, the byte order mark, interlinear
/// annotations, and the tag characters.
pub fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}')
}

/// The bidirectional controls alone (marks, embeddings, overrides,
/// isolates): what makes "gnp.exe" read as "exe.png".
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Control characters become spaces, the characters `drop` says go,
/// runs of white space become one space, and the ends are trimmed.
fn one_line(s: &str, drop: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if drop(c) {
            continue;
        }
        if c.is_control() || c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// At most `max` characters, an ellipsis marking a cut.
fn cap_chars(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s,
        Some(_) => {
            let keep: String = s.chars().take(max.saturating_sub(1)).collect();
            format!("{}…", keep.trim_end())
        }
    }
}

/// A display name: one line, no control nor format character, at most
/// [`NAME_CHARS`] characters.
pub fn name(s: &str) -> String {
    cap_chars(one_line(s, is_format), NAME_CHARS)
}

/// A subject: one line, no control nor bidi character, at most
/// [`SUBJECT_CHARS`] characters. Other format characters stay: the zero
/// width joiner holds emoji sequences together.
pub fn subject(s: &str) -> String {
    cap_chars(one_line(s, is_bidi_control), SUBJECT_CHARS)
}

/// A file name without control nor format characters, at most
/// [`FILENAME_BYTES`] bytes, its extension kept when the cut falls in
/// the stem (a short extension: up to 10 bytes).
pub fn filename(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_control() && !is_format(*c))
        .collect();
    if clean.len() <= FILENAME_BYTES {
        return clean;
    }
    let (stem, ext) = match clean.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() <= 10 => (stem, format!(".{ext}")),
        _ => (clean.as_str(), String::new()),
    };
    let mut cut = FILENAME_BYTES - ext.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &stem[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_what_forges_lines_or_reorders_them() {
        assert_eq!(name("Jeanne\r\nTicket: fermé"), "Jeanne Ticket: fermé");
        assert_eq!(name("  Marc\tDupont  "), "Marc Dupont");
        assert_eq!(name("Service\u{202E}gnp.exe"), "Servicegnp.exe");
        assert_eq!(name("a\u{200B}b\u{FEFF}c\u{0}d"), "abc d");
        assert_eq!(name("Zoë Müller"), "Zoë Müller");
        let long = name(&"é".repeat(300));
        assert_eq!(long.chars().count(), NAME_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn subjects_are_one_line_and_capped() {
        assert_eq!(
            subject("Imprimante\r\nBcc: x@evil.example"),
            "Imprimante Bcc: x@evil.example"
        );
        assert_eq!(subject("Facture \u{202E}fdp.exe"), "Facture fdp.exe");
        // The joiner of an emoji sequence stays.
        assert_eq!(subject("Merci 👩\u{200D}💻"), "Merci 👩\u{200D}💻");
        assert_eq!(subject(&"x".repeat(5000)).chars().count(), SUBJECT_CHARS);
    }

    #[test]
    fn file_names_are_capped_with_their_extension() {
        assert_eq!(filename("rapport\u{202E}fdp.exe"), "rapportfdp.exe");
        let long = filename(&format!("{}.pdf", "a".repeat(400)));
        assert_eq!(long.len(), FILENAME_BYTES);
        assert!(long.ends_with(".pdf"));
        // A cut inside a multi-byte character falls before it.
        let long = filename(&format!("{}.docx", "é".repeat(200)));
        assert!(
            long.len() <= FILENAME_BYTES && long.ends_with("é.docx"),
            "{long}"
        );
        // No extension to keep: a plain cut.
        assert_eq!(filename(&"b".repeat(300)).len(), FILENAME_BYTES);
        assert_eq!(filename("court.txt"), "court.txt");
    }
}
