//! `[templates] dir`: the desk's own wording, file by file. A file
//! `LANG/NAME.txt.tera` (or `LANG/NAME.html.tera`, an HTML alternative)
//! replaces the built-in template of that name; the others stay built in.
//! Each override is checked before it is taken, at start and on reload:
//! its name must be one guichet sends, it must parse, and it must render
//! what every built-in template is told in the golden tests
//! (`templates/samples/LANG.json`), so that a mistake is reported with its
//! file and line instead of failing on a requester's mail.

use std::path::{Path, PathBuf};

/// One file of the overrides' directory.
#[derive(Clone, Debug)]
pub struct Override {
    /// The template's name inside the renderer: `fr/acknowledgement.txt`.
    pub name: String,
    pub path: PathBuf,
    pub source: String,
}

/// What each built-in template is told in the golden tests, per language.
const SAMPLES: &[(&str, &str)] = &[
    ("fr", include_str!("../../templates/samples/fr.json")),
    ("en", include_str!("../../templates/samples/en.json")),
];

/// The `.tera` files under `dir` (`fr/`, `en/`), each the override of a
/// template in `known` (`fr/acknowledgement.txt`, …); every file that is
/// not one is a problem, so that a misspelt name is not silently ignored.
pub fn read_dir(dir: &Path, known: &[&str]) -> Result<Vec<Override>, Vec<String>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return Err(vec![format!("{}: {e}", dir.display())]),
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(inner) => paths.extend(inner.flatten().map(|e| e.path())),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        } else {
            paths.push(path);
        }
    }
    paths.sort();
    for path in paths {
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".tera") else {
            continue; // a README, a backup copy: not a template
        };
        let language = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|l| l.to_str())
            .unwrap_or("");
        let name = format!("{language}/{stem}");
        if !known.contains(&name.as_str()) {
            problems.push(format!(
                "{}: not a template guichet sends (a file LANG/NAME.txt.tera or LANG/NAME.html.tera, LANG fr or en, NAME as in templates/README.md)",
                path.display()
            ));
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(source) => found.push(Override { name, path, source }),
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// The contexts the template `name` (`fr/acknowledgement.txt`, or its
/// `.html` alternative) is rendered with in the golden tests.
pub fn samples(name: &str) -> Vec<serde_json::Value> {
    let Some((language, file)) = name.split_once('/') else {
        return Vec::new();
    };
    let template = file
        .strip_suffix(".txt")
        .or_else(|| file.strip_suffix(".html"))
        .unwrap_or(file);
    static PARSED: std::sync::OnceLock<Vec<(&str, serde_json::Value)>> = std::sync::OnceLock::new();
    PARSED
        .get_or_init(|| {
            SAMPLES
                .iter()
                .filter_map(|(l, json)| Some((*l, serde_json::from_str(json).ok()?)))
                .collect()
        })
        .iter()
        .filter(|(l, _)| *l == language)
        .filter_map(|(_, all)| all.get(template)?.as_array().cloned())
        .flatten()
        .collect()
}

/// The line of `source` a rendering error is about, when the error names
/// something the source writes (`Variable `ticket.nmber` not found`).
pub fn line_of(source: &str, error: &str) -> Option<usize> {
    let quoted: Vec<&str> = error.split('`').skip(1).step_by(2).collect();
    quoted.iter().find_map(|needle| {
        let needle = needle.trim();
        if needle.is_empty() {
            return None;
        }
        source
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_samples_in_both_languages() {
        for language in ["fr", "en"] {
            for name in ["acknowledgement", "solution", "alert", "agent_new_ticket"] {
                assert!(
                    !samples(&format!("{language}/{name}.txt")).is_empty(),
                    "{language}/{name}"
                );
            }
            assert!(!samples(&format!("{language}/solution.html")).is_empty());
        }
        assert!(samples("de/acknowledgement.txt").is_empty());
    }

    #[test]
    fn a_rendering_error_points_at_its_line() {
        let source = "Subject: x\n\nBonjour {{ ticket.requester.nmae }},\n";
        let error = "Failed to render 'fr/acknowledgement.txt': Variable `ticket.requester.nmae` not found in context while rendering 'fr/acknowledgement.txt'";
        assert_eq!(line_of(source, error), Some(3));
        assert_eq!(line_of(source, "no backquotes here"), None);
    }

    #[test]
    fn unknown_files_are_refused_and_others_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("fr")).unwrap();
        std::fs::write(
            dir.path().join("fr/acknowledgement.txt.tera"),
            "Subject: x\n\ny",
        )
        .unwrap();
        std::fs::write(dir.path().join("fr/README.md"), "notes").unwrap();
        let known = ["fr/acknowledgement.txt", "en/acknowledgement.txt"];
        let found = read_dir(dir.path(), &known).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "fr/acknowledgement.txt");
        std::fs::write(
            dir.path().join("fr/acknowledgment.txt.tera"),
            "Subject: x\n\ny",
        )
        .unwrap();
        let problems = read_dir(dir.path(), &known).unwrap_err();
        assert!(
            problems[0].contains("acknowledgment.txt.tera: not a template"),
            "{problems:?}"
        );
    }
}
