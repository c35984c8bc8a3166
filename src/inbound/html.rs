//! HTML-only mail to text at a bounded cost. html2text renders well what
//! people send (paragraphs, lists, links, tables), but its cost grows with
//! the nesting: 3 MiB of nested `<div>`, `<ul>` or `<blockquote>` take it
//! minutes, unclosed `<b>` tens of seconds (`cargo bench --bench html`).
//! So the HTML goes first through one linear pass that keeps at most
//! [`MAX_DEPTH`] elements open (deeper tags are dropped, their text kept)
//! and drops comments; HTML past [`MAX_HTML_BYTES`] is not given to
//! html2text at all but read by that same pass as text.

use std::collections::HashMap;

/// The deepest nesting kept: what mail clients write stays far below
/// (Outlook's deepest, quoted replies in tables, is about 20).
pub const MAX_DEPTH: usize = 48;
/// Past this size, the HTML is read as text by the linear pass alone.
pub const MAX_HTML_BYTES: usize = 1 << 20;

/// Elements that never have content.
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// Elements whose end tag may be left out: a new one closes the open one.
fn end_tag_optional(name: &str) -> bool {
    matches!(
        name,
        "p" | "li" | "dt" | "dd" | "tr" | "td" | "th" | "option"
    )
}

/// Elements that start a new line when read as text.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "br"
            | "li"
            | "tr"
            | "table"
            | "ul"
            | "ol"
            | "blockquote"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "hr"
            | "pre"
            | "dt"
            | "dd"
    )
}

/// One piece of HTML.
enum Piece<'a> {
    Text(&'a str),
    /// A `<` that opens no tag (the text after it comes as the next piece),
    /// or one whose tag is never closed (then with the rest of the HTML):
    /// text, written back with `&lt;` so that nothing dropped after it can
    /// make it a tag.
    Lone(&'a str),
    /// A start tag and its lowercased name (a slash before its `>` changes
    /// nothing: only void elements close themselves).
    Open(&'a str, String),
    Close(&'a str, String),
    /// `<!DOCTYPE …>`, `<?xml …?>`: kept as they are.
    Other(&'a str),
    /// A comment, or the whole of a `<script>` or `<style>` element: dropped.
    Skipped,
}

/// Splits HTML into pieces, in one pass.
struct Pieces<'a> {
    html: &'a str,
    at: usize,
}

fn find_ci(haystack: &str, from: usize, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    (from..h.len().saturating_sub(n.len() - 1)).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// The end of a tag starting at `from` (the index just past its `>`),
/// read as the HTML tokenizer reads it: a quote opens a value only right
/// after `=` (spaces allowed between), anywhere else it is part of a name
/// and the first `>` ends the tag. Reading it otherwise would let a stray
/// quote hide real tags from the depth count.
fn tag_end(html: &str, from: usize) -> Option<usize> {
    let b = html.as_bytes();
    let mut i = from;
    let mut after_equals = false;
    while i < b.len() {
        match b[i] {
            b'>' => return Some(i + 1),
            b'=' => after_equals = true,
            b'"' | b'\'' if after_equals => {
                let q = b[i];
                i += 1 + b[i + 1..].iter().position(|&c| c == q)?;
                after_equals = false;
            }
            c if c.is_ascii_whitespace() => {}
            _ => after_equals = false,
        }
        i += 1;
    }
    None
}

/// The end of `<!…>` or `<?…>`: the first `>`, quotes or not.
fn bang_end(html: &str, from: usize) -> Option<usize> {
    html[from..].find('>').map(|p| from + p + 1)
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let html = self.html;
        let start = self.at;
        if start >= html.len() {
            return None;
        }
        let rest = &html[start..];
        if !rest.starts_with('<') {
            let end = rest.find('<').map_or(html.len(), |p| start + p);
            self.at = end;
            return Some(Piece::Text(&html[start..end]));
        }
        let b = rest.as_bytes();
        if let Some(comment) = rest.strip_prefix("<!--") {
            self.at = comment
                .find("-->")
                .map_or(html.len(), |p| start + 4 + p + 3);
            return Some(Piece::Skipped);
        }
        let closing = b.get(1) == Some(&b'/');
        let name_from = if closing { 2 } else { 1 };
        let tag_like = b.get(1).is_some_and(|c| matches!(c, b'!' | b'?'))
            || b.get(name_from).is_some_and(u8::is_ascii_alphabetic);
        if !tag_like {
            // A "<" that opens nothing: text.
            self.at = start + 1;
            return Some(Piece::Lone(""));
        }
        let bang = matches!(b[1], b'!' | b'?');
        let end = if bang {
            bang_end(html, start + 1)
        } else {
            tag_end(html, start + 1)
        };
        let Some(end) = end else {
            // An unterminated tag: the rest is text.
            self.at = html.len();
            return Some(Piece::Lone(&html[start + 1..]));
        };
        self.at = end;
        let raw = &html[start..end];
        if bang {
            return Some(Piece::Other(raw));
        }
        let name: String = raw[name_from..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if closing {
            return Some(Piece::Close(raw, name));
        }
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            self.at = find_ci(html, end, &close)
                .and_then(|p| tag_end(html, p))
                .unwrap_or(html.len());
            return Some(Piece::Skipped);
        }
        Some(Piece::Open(raw, name))
    }
}

/// The HTML with at most `max_depth` elements open at any point: deeper
/// start tags and their end tags are dropped (their text stays), stray
/// end tags too; comments, scripts and styles go. Linear in the input.
pub fn flatten(html: &str, max_depth: usize) -> String {
    let mut out = String::with_capacity(html.len());
    let mut open: Vec<String> = Vec::new();
    let mut dropped: HashMap<String, usize> = HashMap::new();
    for piece in (Pieces { html, at: 0 }) {
        match piece {
            Piece::Text(t) | Piece::Other(t) => out.push_str(t),
            Piece::Lone(t) => {
                out.push_str("&lt;");
                out.push_str(&t.replace('<', "&lt;"));
            }
            Piece::Skipped => {}
            Piece::Open(raw, name) => {
                // "<div/>" opens a div in HTML: only void elements close
                // themselves, whatever their slash says.
                if is_void(&name) {
                    out.push_str(raw);
                    continue;
                }
                if end_tag_optional(&name) && open.last() == Some(&name) {
                    open.pop();
                }
                if open.len() >= max_depth {
                    *dropped.entry(name).or_default() += 1;
                } else {
                    out.push_str(raw);
                    open.push(name);
                }
            }
            Piece::Close(raw, name) => {
                if let Some(n) = dropped.get_mut(&name).filter(|n| **n > 0) {
                    *n -= 1;
                } else if let Some(at) = open.iter().rposition(|o| *o == name) {
                    // What it closes past is closed first, explicitly: a
                    // misnested "<b><div></b>" would otherwise keep the
                    // div open in the parser (its adoption agency) and
                    // nest deeper at each repeat than counted here.
                    for inner in open[at + 1..].iter().rev() {
                        out.push_str("</");
                        out.push_str(inner);
                        out.push('>');
                    }
                    open.truncate(at);
                    out.push_str(raw);
                }
            }
        }
    }
    out
}

/// How a mail client marks the quoted history in the HTML of a reply.
enum Quoted {
    /// The element is the quote (Gmail's `gmail_quote`, Apple Mail's and
    /// Thunderbird's `<blockquote type="cite">`, Thunderbird's
    /// `moz-cite-prefix` attribution): it goes, what follows it stays (a
    /// bottom-posted answer).
    Element,
    /// The element starts the history, which runs to the end: Outlook's
    /// header block (desktop: a `border-top:solid` separator; web and
    /// phones: `divRplyFwdMsg`, `appendonsend`, Outlook for Mac's
    /// `OLK_SRC_BODY_SECTION`, iOS's reference message container).
    Rest,
}

fn quoted(raw: &str, name: &str) -> Option<Quoted> {
    let tag: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let rest = [
        "divrplyfwdmsg",
        "appendonsend",
        "olk_src_body_section",
        "mail-editor-reference-message-container",
        "border:none;border-top:solid",
    ];
    let element = [
        "gmail_quote",
        "moz-cite-prefix",
        "yahoo_quoted",
        "protonmail_quote",
    ];
    if rest.iter().any(|m| tag.contains(m)) {
        Some(Quoted::Rest)
    } else if element.iter().any(|m| tag.contains(m))
        || name == "blockquote" && (tag.contains("type=\"cite\"") || tag.contains("type=cite"))
    {
        Some(Quoted::Element)
    } else {
        None
    }
}

/// The HTML of a reply without the quoted history its client marked in
/// the structure, or `None` when it marks none. Linear in the input: a
/// quote ends at the end tag that balances its start tag (same name),
/// or with the HTML.
pub fn without_quotes(html: &str) -> Option<String> {
    let mut out = String::with_capacity(html.len());
    let mut found = false;
    // Inside a quote: its element's name, and how many of that name are
    // open inside it.
    let mut inside: Option<(String, usize)> = None;
    for piece in (Pieces { html, at: 0 }) {
        if let Some((name, depth)) = &mut inside {
            match &piece {
                Piece::Open(_, n) if n == name => *depth += 1,
                Piece::Close(_, n) if n == name => {
                    if *depth == 0 {
                        inside = None;
                    } else {
                        *depth -= 1;
                    }
                }
                _ => {}
            }
            continue;
        }
        match piece {
            Piece::Text(t) | Piece::Other(t) => out.push_str(t),
            Piece::Lone(t) => {
                out.push_str("&lt;");
                out.push_str(&t.replace('<', "&lt;"));
            }
            Piece::Skipped => {}
            Piece::Open(raw, name) => match quoted(raw, &name) {
                Some(Quoted::Rest) => {
                    found = true;
                    break;
                }
                Some(Quoted::Element) if !is_void(&name) => {
                    found = true;
                    inside = Some((name, 0));
                }
                _ => out.push_str(raw),
            },
            Piece::Close(raw, _) => out.push_str(raw),
        }
    }
    found.then_some(out)
}

/// The text of HTML read by the linear pass alone: tags dropped, block
/// elements on lines of their own, the common entities decoded. For HTML
/// too large to render.
pub fn strip(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    for piece in (Pieces { html, at: 0 }) {
        match piece {
            Piece::Text(t) => decode_entities(t, &mut out),
            Piece::Lone(t) => {
                out.push('<');
                decode_entities(t, &mut out);
            }
            Piece::Open(_, name) | Piece::Close(_, name)
                if is_block(&name) && !out.ends_with('\n') && !out.is_empty() =>
            {
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

fn decode_entities(t: &str, out: &mut String) {
    let mut rest = t;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..].find(';').map(|p| p + 1).filter(|&p| p <= 10);
        let decoded = end.and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_as_clients_write_it_is_unchanged() {
        let outlook = "<html><head><style>p{margin:0}</style></head><body><div class=WordSection1><p class=MsoNormal>Bonjour,<o:p></o:p></p><p class=MsoNormal>L'imprimante est hors ligne.</p></div></body></html>";
        assert_eq!(
            flatten(outlook, MAX_DEPTH),
            "<html><head></head><body><div class=WordSection1><p class=MsoNormal>Bonjour,<o:p></o:p></p><p class=MsoNormal>L'imprimante est hors ligne.</p></div></body></html>"
        );
        let gmail = "<div dir=\"ltr\">Merci&nbsp;!<br><div class=\"gmail_quote\">Le lun. a écrit&nbsp;:<br><blockquote class=\"gmail_quote\" style=\"margin:0 0 0 .8ex\">x &gt; y</blockquote></div></div>";
        assert_eq!(flatten(gmail, MAX_DEPTH), gmail);
    }

    #[test]
    fn deep_nesting_is_cut_and_its_text_kept() {
        let deep = format!("{}texte{}", "<div>".repeat(1000), "</div>".repeat(1000));
        let flat = flatten(&deep, 3);
        assert_eq!(flat, "<div><div><div>texte</div></div></div>");
        let unclosed = format!("{}fin", "<b>".repeat(1000));
        assert_eq!(flatten(&unclosed, 2), "<b><b>fin");
        // Paragraphs and list items left open close each other.
        let open_p = "<p>a<p>b<p>c<p>d";
        assert_eq!(flatten(open_p, 2), open_p);
        let items = format!("<ul>{}</ul>", "<li>item".repeat(100));
        assert_eq!(
            flatten(&items, 2),
            format!("<ul>{}</li></ul>", "<li>item".repeat(100))
        );
    }

    #[test]
    fn quotes_comments_scripts_and_strays() {
        assert_eq!(
            flatten("<a title=\"x > y\">lien</a><!-- <div> -->", 1),
            "<a title=\"x > y\">lien</a>"
        );
        assert_eq!(
            flatten("a<script>if (a<b) {}</script>b<STYLE>x</style >c", 4),
            "abc"
        );
        assert_eq!(flatten("</div>a < b</p>", 4), "a &lt; b");
        assert_eq!(flatten("a <b", 4), "a &lt;b");
        // Nothing dropped makes a tag of what was text.
        assert_eq!(flatten("</<script></script>p>", 4), "&lt;/p>");
        // Quotes open values only after "=": a stray one hides nothing.
        let hidden = format!("<a x\"{}\">", "<div>".repeat(10));
        assert_eq!(flatten(&hidden, 3), "<a x\"<div><div><div>\">");
        let bang = format!("<!x \"{}\">", "<div>".repeat(10));
        assert_eq!(flatten(&bang, 3), "<!x \"<div><div><div><div>\">");
        assert_eq!(
            flatten("<a title=\"x > y\" href='z'>a</a>", 3),
            "<a title=\"x > y\" href='z'>a</a>"
        );
        // "<div/>" opens a div; a misnested end closes what it passes.
        assert_eq!(flatten(&"<div/>".repeat(5), 2), "<div/><div/>");
        assert_eq!(flatten("<b><div></b>x", 4), "<b><div></div></b>x");
    }

    #[test]
    fn strip_reads_large_html_as_text() {
        assert_eq!(
            strip("<p>Bonjour&nbsp;Marc,</p><p>5 &lt; 6 &amp; &#233;t&#xE9; &bogus;</p>"),
            "Bonjour Marc,\n5 < 6 & été &bogus;\n"
        );
    }

    #[test]
    fn quotes_marked_in_the_structure_go() {
        // Gmail, bottom-posted: the quote goes, the answer under it stays.
        let gmail = r#"<div dir="ltr"><div class="gmail_quote"><div class="gmail_attr">On Mon wrote:</div><blockquote class="gmail_quote"><div>old <div>older</div></div></blockquote></div><div>REFUSE: still broken</div></div>"#;
        assert_eq!(
            without_quotes(gmail).unwrap(),
            r#"<div dir="ltr"><div>REFUSE: still broken</div></div>"#
        );
        // Apple Mail and Thunderbird.
        let cite =
            r#"Fixed<blockquote type="cite"><blockquote type="cite">x</blockquote>y</blockquote>"#;
        assert_eq!(without_quotes(cite).unwrap(), "Fixed");
        let moz = r#"<p>OK</p><div class="moz-cite-prefix">Le 30/11 a écrit :</div><blockquote type=cite>z</blockquote><p>after</p>"#;
        assert_eq!(without_quotes(moz).unwrap(), "<p>OK</p><p>after</p>");
        // Outlook: from its header block on, all is history.
        let web = r#"<div>Non</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>De :</b> x</div><div>note</div>"#;
        assert_eq!(without_quotes(web).unwrap(), "<div>Non</div>");
        let desktop = r#"<div class=WordSection1><p>Oui</p><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p><b>From:</b> x</p></div><p>old</p></div>"#;
        assert_eq!(
            without_quotes(desktop).unwrap(),
            "<div class=WordSection1><p>Oui</p>"
        );
        let prefixed = r#"<p>ok</p><div id="x_divRplyFwdMsg">old</div>"#;
        assert_eq!(without_quotes(prefixed).unwrap(), "<p>ok</p>");
        // Nothing marked: nothing to say.
        assert_eq!(
            without_quotes("<p>a <blockquote>quoted on purpose</blockquote></p>"),
            None
        );
        // A quote never closed runs to the end.
        assert_eq!(
            without_quotes("a<div class=gmail_quote><div>b</div>").unwrap(),
            "a"
        );
    }
}
