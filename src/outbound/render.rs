//! Mail text from `templates/{fr,en}/NAME.txt.tera`. A template's first line
//! is `Subject: …`, then a blank line, then the body.

use tera::{Context, Tera};

use crate::config::Language;

/// The templates, compiled into the binary so an installed daemon needs no
/// data files. One per `ticket::notice::Template` and the alert, in each
/// language (a unit test checks the list).
macro_rules! templates {
    ($($name:literal),+ $(,)?) => {
        &[$(
            (concat!("fr/", $name, ".txt"), include_str!(concat!("../../templates/fr/", $name, ".txt.tera"))),
            (concat!("en/", $name, ".txt"), include_str!(concat!("../../templates/en/", $name, ".txt.tera"))),
        )+]
    };
}

/// HTML alternatives, where they help: the solution mail gets one-click
/// answers (mailto links carrying the keyword).
const HTML_TEMPLATES: &[(&str, &str)] = &[
    (
        "fr/solution.html",
        include_str!("../../templates/fr/solution.html.tera"),
    ),
    (
        "en/solution.html",
        include_str!("../../templates/en/solution.html.tera"),
    ),
];

const TEMPLATES: &[(&str, &str)] = templates!(
    "acknowledgement",
    "agent_new_ticket",
    "agent_followup",
    "agent_reply",
    "agent_note",
    "solution",
    "validation_confirmation",
    "validated_notice",
    "refusal_acknowledged",
    "agent_refusal",
    "reminder",
    "auto_closure",
    "agent_closure",
    "command_error",
    "security_refused",
    "agent_bounce",
    "attachment_refused",
    "answer_undecided",
    "reply_withheld",
    "command_done",
    "sla_alert",
    "alert",
    "digest",
);

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name}: {detail}")]
    Template { name: String, detail: String },
    #[error("template {0} does not start with a \"Subject:\" line")]
    NoSubject(String),
    /// `[templates] dir` holds overrides that cannot be used: each problem
    /// with its file (and line, when known).
    #[error("{}", .0.join("; "))]
    Overrides(Vec<String>),
}

/// The templates, each parsed the first time it is rendered: a desk's
/// process renders a few of the fifty (`guichet ingest` from an MTA, one
/// process per mail, spent three quarters of its time parsing them all).
/// The desk's overrides are parsed, and tried, when the renderer is made.
pub struct Renderer {
    tera: std::sync::RwLock<Tera>,
}

/// A rendered mail: subject, plain-text body, and an HTML alternative for
/// the mails that have one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
    pub html: Option<String>,
}

/// Percent-encoding for mailto links (RFC 6068): everything but
/// unreserved characters.
fn urlencode(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = tera::try_get_value!("urlencode", "value", String, value);
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(tera::Value::String(out))
}

fn chain(e: &tera::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl Renderer {
    /// The built-in templates, with the desk's overrides from `dir` when
    /// given, each checked first (see [`super::overrides`]).
    pub fn with_overrides(dir: Option<&std::path::Path>) -> Result<Renderer, RenderError> {
        let renderer = Renderer::new()?;
        let Some(dir) = dir else {
            return Ok(renderer);
        };
        let known: Vec<String> = TEMPLATES
            .iter()
            .map(|(n, _)| n.to_string())
            .chain(
                TEMPLATES
                    .iter()
                    .filter_map(|(n, _)| n.strip_suffix(".txt"))
                    .map(|n| format!("{n}.html")),
            )
            .collect();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let overrides = super::overrides::read_dir(dir, &known).map_err(RenderError::Overrides)?;
        let mut problems = Vec::new();
        for o in &overrides {
            if let Err(e) = renderer.tera_mut().add_raw_template(&o.name, &o.source) {
                problems.push(format!("{}: {}", o.path.display(), chain(&e)));
            }
        }
        if !problems.is_empty() {
            return Err(RenderError::Overrides(problems));
        }
        for o in &overrides {
            for sample in super::overrides::samples(&o.name) {
                let checked = Context::from_serialize(&sample)
                    .and_then(|mut ctx| {
                        ctx.insert("reply_subject", "RE: sample");
                        renderer.tera().render(&o.name, &ctx)
                    })
                    .map_err(|e| chain(&e))
                    .and_then(|text| {
                        if o.name.ends_with(".txt") && !text.starts_with("Subject:") {
                            Err("does not start with a \"Subject:\" line".to_string())
                        } else {
                            Ok(())
                        }
                    });
                if let Err(why) = checked {
                    let at = super::overrides::line_of(&o.source, &why)
                        .map(|l| format!(" line {l}:"))
                        .unwrap_or_default();
                    problems.push(format!("{}:{at} {why}", o.path.display()));
                    break;
                }
            }
        }
        if !problems.is_empty() {
            return Err(RenderError::Overrides(problems));
        }
        for o in &overrides {
            tracing::info!(template = %o.name, file = %o.path.display(), "template overridden");
        }
        Ok(renderer)
    }

    pub fn new() -> Result<Renderer, RenderError> {
        let mut tera = Tera::default();
        // HTML templates escape what they insert; text ones must not.
        tera.autoescape_on(vec![".html"]);
        tera.register_filter("urlencode", urlencode);
        Ok(Renderer {
            tera: std::sync::RwLock::new(tera),
        })
    }

    fn tera(&self) -> std::sync::RwLockReadGuard<'_, Tera> {
        self.tera.read().unwrap_or_else(|e| e.into_inner())
    }

    fn tera_mut(&self) -> std::sync::RwLockWriteGuard<'_, Tera> {
        self.tera.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether template `name` exists (an override, or a built-in one,
    /// parsed now if it was not yet).
    fn ensure(&self, name: &str) -> Result<bool, RenderError> {
        if self.tera().get_template_names().any(|n| n == name) {
            return Ok(true);
        }
        let Some((_, source)) = TEMPLATES
            .iter()
            .chain(HTML_TEMPLATES)
            .find(|(n, _)| *n == name)
        else {
            return Ok(false);
        };
        let mut tera = self.tera_mut();
        // Another thread may have parsed it meanwhile: parsed once.
        if !tera.get_template_names().any(|n| n == name) {
            tera.add_raw_template(name, source)
                .map_err(|e| RenderError::Template {
                    name: name.to_string(),
                    detail: chain(&e),
                })?;
        }
        Ok(true)
    }

    /// Parses every built-in template (the tests check they all do).
    pub fn parse_all(&self) -> Result<(), RenderError> {
        for (name, _) in TEMPLATES.iter().chain(HTML_TEMPLATES) {
            self.ensure(name)?;
        }
        Ok(())
    }

    pub fn render(
        &self,
        language: Language,
        name: &str,
        context: &serde_json::Value,
    ) -> Result<Rendered, RenderError> {
        let full = format!("{}/{}.txt", language.as_str(), name);
        let ctx = Context::from_serialize(context).map_err(|e| RenderError::Template {
            name: full.clone(),
            detail: chain(&e),
        })?;
        self.ensure(&full)?;
        let text = self
            .tera()
            .render(&full, &ctx)
            .map_err(|e| RenderError::Template {
                name: full.clone(),
                detail: chain(&e),
            })?;
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let subject = first
            .strip_prefix("Subject:")
            .ok_or_else(|| RenderError::NoSubject(full.clone()))?
            .trim()
            .to_string();
        let body = rest.trim_start_matches('\n').trim_end().to_string() + "\n";
        let html_name = format!("{}/{}.html", language.as_str(), name);
        let html = if self.ensure(&html_name)? {
            let mut ctx = ctx;
            ctx.insert("reply_subject", &format!("RE: {subject}"));
            Some(
                self.tera()
                    .render(&html_name, &ctx)
                    .map_err(|e| RenderError::Template {
                        name: html_name.clone(),
                        detail: chain(&e),
                    })?,
            )
        } else {
            None
        };
        Ok(Rendered {
            subject,
            body,
            html,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TEMPLATES;
    use crate::ticket::notice::Template;

    /// The files compiled in are the domain's templates, the alert and the
    /// digest, each in both languages: the list above is written out only
    /// because `include_str!` needs literal paths.
    #[test]
    fn every_template_of_the_domain_is_compiled_in() {
        let mut want: Vec<String> = Template::ALL
            .iter()
            .map(|t| t.as_str().to_string())
            .chain(["alert".to_string(), "digest".to_string()])
            .flat_map(|name| [format!("fr/{name}.txt"), format!("en/{name}.txt")])
            .collect();
        let mut have: Vec<String> = TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
        want.sort();
        have.sort();
        assert_eq!(have, want);
    }

    /// Each is parsed when first rendered: all of them must parse.
    #[test]
    fn every_built_in_template_parses() {
        super::Renderer::new().unwrap().parse_all().unwrap();
    }
}
