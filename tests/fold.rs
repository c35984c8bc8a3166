//! The domain folds words (case and accents) with a table of its own, so
//! that it depends on `std` alone: here it is checked against Unicode's
//! canonical decomposition (NFD, combining marks dropped, lower case) for
//! every Latin letter a French or English desk may meet, precomposed and
//! decomposed.

use guichet::ticket::text::fold;
use unicode_normalization::UnicodeNormalization;

fn by_unicode(s: &str) -> String {
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

#[test]
fn the_domains_fold_agrees_with_unicode_on_latin_letters() {
    // Basic Latin, Latin-1 Supplement and Latin Extended-A.
    let letters: Vec<char> = (0x20u32..0x180)
        .filter_map(char::from_u32)
        .filter(|c| !c.is_control())
        .collect();
    let mut checked = 0;
    for c in letters {
        let s = c.to_string();
        assert_eq!(fold(&s), by_unicode(&s), "{c:?} (U+{:04X})", c as u32);
        let decomposed: String = s.nfd().collect();
        assert_eq!(
            fold(&decomposed),
            by_unicode(&s),
            "{c:?} decomposed (U+{:04X})",
            c as u32
        );
        checked += 1;
    }
    assert!(checked > 300, "{checked} letters checked");
    for word in ["VALIDÉ", "Clôturer", "REFUSÉ", "Catégorie", "Résolu", "ÇA"] {
        assert_eq!(fold(word), by_unicode(word), "{word}");
    }
}
