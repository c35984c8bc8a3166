//! A reader over a TOML table that records every problem with its key path
//! instead of stopping at the first one, and reports keys nobody read.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::{is_loopback, Secret, Tls};

pub(super) struct Reader {
    table: toml::Table,
    path: String,
    problems: Rc<RefCell<Vec<String>>>,
}

impl Reader {
    pub(super) fn new(table: toml::Table, path: &str) -> Reader {
        Reader {
            table,
            path: path.to_string(),
            problems: Rc::new(RefCell::new(Vec::new())),
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    pub(super) fn problem(&self, key: &str, what: &str) {
        let path = self.key_path(key);
        self.problems.borrow_mut().push(format!("{path}: {what}"));
    }

    /// The sub-table `key`; a missing section reads as empty, so that its
    /// required keys are reported as missing.
    pub(super) fn section(&mut self, key: &str) -> Reader {
        let table = match self.table.remove(key) {
            Some(toml::Value::Table(t)) => t,
            Some(_) => {
                self.problem(key, "must be a section");
                toml::Table::new()
            }
            None => toml::Table::new(),
        };
        Reader {
            table,
            path: self.key_path(key),
            problems: Rc::clone(&self.problems),
        }
    }

    /// Whether the key is there at all.
    pub(super) fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// The tables of an array of tables (`[[key]]`), each read on its
    /// own, its problems named `key[1]`, `key[2]`… as an administrator
    /// counts them.
    pub(super) fn tables(&mut self, key: &str) -> Vec<Reader> {
        match self.table.remove(key) {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.into_iter().enumerate() {
                    let path = format!("{}[{}]", self.key_path(key), i + 1);
                    match item {
                        toml::Value::Table(table) => out.push(Reader {
                            table,
                            path,
                            problems: Rc::clone(&self.problems),
                        }),
                        _ => self
                            .problems
                            .borrow_mut()
                            .push(format!("{path}: must be a table")),
                    }
                }
                out
            }
            Some(_) => {
                self.problem(key, &format!("must be written [[{key}]]"));
                Vec::new()
            }
        }
    }

    /// An inline table's keys (`{ blocking = "1h", … }`), as a section.
    pub(super) fn inline(&mut self, key: &str) -> Option<Reader> {
        self.table.contains_key(key).then(|| self.section(key))
    }

    fn take(&mut self, key: &str) -> Option<toml::Value> {
        self.table.remove(key)
    }

    pub(super) fn opt_string(&mut self, key: &str) -> Option<String> {
        match self.take(key)? {
            toml::Value::String(s) => Some(s),
            _ => {
                self.problem(key, "must be a string");
                None
            }
        }
    }

    pub(super) fn string(&mut self, key: &str) -> String {
        match self.opt_string(key) {
            Some(s) if !s.trim().is_empty() => s,
            Some(_) => {
                self.problem(key, "must not be empty");
                String::new()
            }
            None => {
                if !self
                    .problems
                    .borrow()
                    .iter()
                    .any(|p| p.starts_with(&self.key_path(key)))
                {
                    self.problem(key, "missing");
                }
                String::new()
            }
        }
    }

    pub(super) fn string_or(&mut self, key: &str, default: &str) -> String {
        self.opt_string(key).unwrap_or_else(|| default.to_string())
    }

    pub(super) fn bool_or(&mut self, key: &str, default: bool) -> bool {
        match self.take(key) {
            None => default,
            Some(toml::Value::Boolean(b)) => b,
            Some(_) => {
                self.problem(key, "must be true or false");
                default
            }
        }
    }

    pub(super) fn port(&mut self, key: &str, default: u16) -> u16 {
        match self.take(key) {
            None => default,
            Some(toml::Value::Integer(n)) if (1..=65535).contains(&n) => n as u16,
            Some(_) => {
                self.problem(key, "must be a port number between 1 and 65535");
                default
            }
        }
    }

    /// A size in bytes: 1048576, "50MiB", "500 KB", "2G".
    pub(super) fn size_or(&mut self, key: &str, default: u64) -> u64 {
        let parsed = match self.take(key) {
            None => return default,
            Some(toml::Value::Integer(n)) if n > 0 => Some(n as u64),
            Some(toml::Value::String(s)) => parse_size(&s),
            Some(_) => None,
        };
        parsed.unwrap_or_else(|| {
            self.problem(
                key,
                "must be a size such as \"50MiB\", \"500KB\" or a number of bytes",
            );
            default
        })
    }

    /// A positive whole number.
    pub(super) fn count_or(&mut self, key: &str, default: u32) -> u32 {
        match self.take(key) {
            None => default,
            Some(toml::Value::Integer(n)) if (1..=i64::from(u32::MAX)).contains(&n) => n as u32,
            Some(_) => {
                self.problem(key, "must be a whole number above 0");
                default
            }
        }
    }

    /// A whole number from 0 to `max`.
    pub(super) fn number_or(&mut self, key: &str, default: u32, max: u32) -> u32 {
        match self.take(key) {
            None => default,
            Some(toml::Value::Integer(n)) if (0..=i64::from(max)).contains(&n) => n as u32,
            Some(_) => {
                self.problem(key, &format!("must be a whole number from 0 to {max}"));
                default
            }
        }
    }

    /// A number (whole or not) of at least 0.
    pub(super) fn real_or(&mut self, key: &str, default: f64) -> f64 {
        match self.take(key) {
            None => default,
            Some(toml::Value::Integer(n)) if n >= 0 => n as f64,
            Some(toml::Value::Float(x)) if x.is_finite() && x >= 0.0 => x,
            Some(_) => {
                self.problem(key, "must be a number of at least 0");
                default
            }
        }
    }

    /// A duration such as "60s", "5m" or "7d".
    pub(super) fn duration_or(&mut self, key: &str, default: Duration) -> Duration {
        match self.take(key) {
            None => default,
            Some(toml::Value::String(s)) => match humantime::parse_duration(&s) {
                Ok(d) if !d.is_zero() => d,
                _ => {
                    self.problem(key, "must be a duration such as \"60s\", \"5m\" or \"7d\"");
                    default
                }
            },
            Some(_) => {
                self.problem(key, "must be a duration string such as \"60s\"");
                default
            }
        }
    }

    /// `auth = "password" | "oauth2"`.
    pub(super) fn auth(&mut self) -> super::Auth {
        match self.opt_string("auth").as_deref() {
            None | Some("password") => super::Auth::Password,
            Some("oauth2") => super::Auth::OAuth2,
            Some(_) => {
                self.problem("auth", "must be \"password\" or \"oauth2\"");
                super::Auth::Password
            }
        }
    }

    /// Whether the section was written at all.
    pub(super) fn is_present(&self) -> bool {
        !self.table.is_empty()
    }

    /// A duration that may be absent (`None`), such as `"3y"`.
    pub(super) fn opt_duration(&mut self, key: &str) -> Option<Duration> {
        let present = self.table.contains_key(key);
        if !present {
            return None;
        }
        let d = self.duration_or(key, Duration::ZERO);
        (!d.is_zero()).then_some(d)
    }

    pub(super) fn tls(&mut self, key: &str, default: Tls, host: &str) -> Tls {
        let tls = match self.opt_string(key).as_deref() {
            None => default,
            Some("implicit") => Tls::Implicit,
            Some("starttls") => Tls::Starttls,
            Some("none") => Tls::None,
            Some(_) => {
                self.problem(key, "must be \"implicit\", \"starttls\" or \"none\"");
                return default;
            }
        };
        if tls == Tls::None && !host.is_empty() && !is_loopback(host) {
            self.problem(
                key,
                &format!("\"none\" sends passwords in clear text; it is allowed only towards the loopback interface, not {host}"),
            );
        }
        tls
    }

    pub(super) fn existing_file(&mut self, key: &str) -> Option<PathBuf> {
        let path = PathBuf::from(self.opt_string(key)?);
        if !path.is_file() {
            self.problem(key, &format!("file {} does not exist", path.display()));
        }
        Some(path)
    }

    pub(super) fn existing_dir(&mut self, key: &str) -> Option<PathBuf> {
        let path = PathBuf::from(self.opt_string(key)?);
        if !path.is_dir() {
            self.problem(key, &format!("directory {} does not exist", path.display()));
        }
        Some(path)
    }

    /// `password` inline or `password_file` (for systemd credentials), not
    /// both. The file's trailing newline is not part of the secret.
    pub(super) fn password(&mut self, required: bool) -> Option<Secret> {
        let inline = self.opt_string("password");
        let file = self.opt_string("password_file");
        match (inline, file) {
            (Some(_), Some(_)) => {
                self.problem("password", "give password or password_file, not both");
                None
            }
            (Some(p), None) => Some(Secret::new(p)),
            (None, Some(f)) => Some(Secret::File(f.into())),
            (None, None) => {
                if required {
                    self.problem("password", "missing (or password_file)");
                }
                None
            }
        }
    }

    /// A list of strings (`scopes = ["…"]`); `None` when absent.
    pub(super) fn opt_string_list(&mut self, key: &str) -> Option<Vec<String>> {
        match self.take(key)? {
            toml::Value::Array(items) => {
                let list: Option<Vec<String>> =
                    items.iter().map(|i| i.as_str().map(String::from)).collect();
                if list.is_none() {
                    self.problem(key, "must be a list of strings");
                }
                list
            }
            _ => {
                self.problem(key, "must be a list of strings");
                None
            }
        }
    }

    pub(super) fn address_list(&mut self, key: &str) -> Vec<String> {
        match self.take(key) {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str().map(str::parse::<lettre::Address>) {
                        Some(Ok(a)) => out.push(a.to_string().to_lowercase()),
                        _ => self.problem(&format!("{key}[{i}]"), "not an email address"),
                    }
                }
                out
            }
            Some(_) => {
                self.problem(key, "must be a list of addresses");
                Vec::new()
            }
        }
    }

    /// A non-empty list of single words (keywords).
    pub(super) fn word_list(&mut self, key: &str, default: &[&str]) -> Vec<String> {
        match self.take(key) {
            None => default.iter().map(|s| s.to_string()).collect(),
            Some(toml::Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(w) if !w.is_empty() && w.chars().all(char::is_alphanumeric) => {
                            out.push(w.to_string())
                        }
                        _ => self.problem(&format!("{key}[{i}]"), "must be one word"),
                    }
                }
                if out.is_empty() && items.is_empty() {
                    self.problem(key, "must not be empty");
                }
                out
            }
            Some(_) => {
                self.problem(key, "must be a list of words");
                Vec::new()
            }
        }
    }

    /// Reports the keys of this section nobody asked for.
    pub(super) fn finish(self) {
        for key in self.table.keys() {
            self.problem(key, "unknown key");
        }
    }

    /// Reports unknown sections, and returns every problem recorded.
    pub(super) fn finish_all(self) -> Vec<String> {
        for key in self.table.keys() {
            self.problem(key, "unknown section");
        }
        self.problems.borrow().clone()
    }
}

/// "50MiB" -> 52428800. Units: B, K/KB/KiB, M/MB/MiB, G/GB/GiB (powers of
/// 1024 for the binary ones, of 1000 for the others).
pub(super) fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let number: u64 = s[..split].parse().ok()?;
    let factor: u64 = match s[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor).filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("50MiB"), Some(50 << 20));
        assert_eq!(parse_size("500 KB"), Some(500_000));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("12 parsecs"), None);
    }
}
