//! Mail text from `templates/{fr,en}/NAME.txt.tera`. A template's first line
//! is `Subject: …`, then a blank line, then the body.

use tera::{Context, Tera};

use crate::config::Language;

/// The templates, compiled into the binary so an installed daemon needs no
/// data files. One per `ticket::machine::Template`, in each language.
macro_rules! templates {
    ($($name:literal),+ $(,)?) => {
        &[$(
            (concat!("fr/", $name, ".txt"), include_str!(concat!("../../templates/fr/", $name, ".txt.tera"))),
            (concat!("en/", $name, ".txt"), include_str!(concat!("../../templates/en/", $name, ".txt.tera"))),
        )+]
    };
}

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
    "alert",
);

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name}: {detail}")]
    Template { name: String, detail: String },
    #[error("template {0} does not start with a \"Subject:\" line")]
    NoSubject(String),
}

pub struct Renderer {
    tera: Tera,
}

/// A rendered mail: subject and plain-text body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
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
    pub fn new() -> Result<Renderer, RenderError> {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![]);
        tera.add_raw_templates(TEMPLATES.iter().copied())
            .map_err(|e| RenderError::Template {
                name: "(all)".into(),
                detail: chain(&e),
            })?;
        Ok(Renderer { tera })
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
        let text = self
            .tera
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
        Ok(Rendered { subject, body })
    }
}
