//! The Microsoft Teams body: a message carrying one Adaptive Card, the format of the Workflows
//! (Power Automate) webhooks that replaced the retired Office 365 connectors. Pure.
//!
//! The card is the title in bold (coloured by severity: `Attention`, `Warning` or `Good`), the
//! text wrapped below it, and the facts as a FactSet. Version 1.4 is what Teams renders on
//! every client. Teams takes no channel or sender from the body: the workflow decides both.

use super::text::{fit, plain};
use super::{Message, Severity};
use serde_json::{Value, json};

/// The title. Teams refuses messages over about 28 KB; these bounds keep a card well below.
const TITLE_CHARS: usize = 256;
/// The text.
const TEXT_CHARS: usize = 4000;
/// Facts shown.
const MAX_FACTS: usize = 25;
/// One fact's title and value.
const FACT_CHARS: usize = 500;

pub(super) fn body(message: &Message) -> Value {
    let color = match message.severity {
        Severity::Info => "Good",
        Severity::Warn => "Warning",
        Severity::Error => "Attention",
    };
    let mut card = vec![json!({
        "type": "TextBlock",
        "text": fit(&message.heading(), TITLE_CHARS, plain),
        "size": "Medium",
        "weight": "Bolder",
        "color": color,
        "wrap": true,
    })];
    if !message.text.trim().is_empty() {
        card.push(json!({"type": "TextBlock", "text": fit(&message.text, TEXT_CHARS, plain), "wrap": true}));
    }
    if !message.fields.is_empty() {
        let facts: Vec<Value> = message
            .fields
            .iter()
            .take(MAX_FACTS)
            .map(|(key, value)| json!({"title": fit(key, FACT_CHARS, plain), "value": fit(value, FACT_CHARS, plain)}))
            .collect();
        card.push(json!({"type": "FactSet", "facts": facts}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": card,
            },
        }],
    })
}
