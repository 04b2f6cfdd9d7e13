//! The Discord body: a native webhook message with one embed. Pure.
//!
//! The embed is the title, the text as its description, a colour bar by severity, the facts
//! as inline fields, `namespace/name · phase` as its footer and the time as its timestamp.
//! Discord refuses an embed past its limits (title 256, description 4096, 25 fields, field
//! name 256 and value 1024, 6000 in all), so texts are cut and fields left out to fit; a field
//! may not be empty, so an empty value is sent as `-`. Discord webhooks post to their own
//! channel; `username` overrides the webhook's name.

use super::text::{fit, plain, units};
use super::{Message, Phase};
use serde_json::{Map, Value, json};

const TITLE_CHARS: usize = 256;
const DESCRIPTION_CHARS: usize = 4096;
const MAX_FIELDS: usize = 25;
const FIELD_NAME_CHARS: usize = 256;
const FIELD_VALUE_CHARS: usize = 1024;
const FOOTER_CHARS: usize = 2048;
/// Title, description, field names and values and footer together.
const EMBED_CHARS: usize = 6000;
/// A webhook's username.
const USERNAME_CHARS: usize = 80;

pub(super) fn body(username: Option<&str>, message: &Message) -> Value {
    let title = fit(&message.heading(), TITLE_CHARS, plain);
    let mut footer = message.subject();
    if message.phase != Phase::Unset {
        footer.push_str(" · ");
        footer.push_str(message.phase.as_str());
    }
    let footer = fit(&footer, FOOTER_CHARS, plain);
    let mut left = EMBED_CHARS.saturating_sub(units(&title) + units(&footer));
    let description = fit(&message.text, DESCRIPTION_CHARS.min(left), plain);
    left -= units(&description);

    let mut fields = Vec::new();
    for (key, value) in message.fields.iter().take(MAX_FIELDS) {
        let name = fit(if key.is_empty() { "-" } else { key }, FIELD_NAME_CHARS, plain);
        let value = fit(if value.is_empty() { "-" } else { value }, FIELD_VALUE_CHARS, plain);
        let size = units(&name) + units(&value);
        if size > left {
            break;
        }
        left -= size;
        fields.push(json!({"name": name, "value": value, "inline": true}));
    }

    let mut embed = Map::new();
    embed.insert("title".to_owned(), title.into());
    if !description.is_empty() {
        embed.insert("description".to_owned(), description.into());
    }
    embed.insert("color".to_owned(), message.severity.rgb().into());
    if !fields.is_empty() {
        embed.insert("fields".to_owned(), fields.into());
    }
    embed.insert("footer".to_owned(), json!({"text": footer}));
    embed.insert("timestamp".to_owned(), message.timestamp().into());

    let mut body = Map::new();
    if let Some(username) = username {
        body.insert("username".to_owned(), fit(username, USERNAME_CHARS, plain).into());
    }
    body.insert("embeds".to_owned(), vec![Value::Object(embed)].into());
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::super::Severity;
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn a_huge_message_fits_in_one_embed() {
        let message = Message {
            name: "podinfo".to_owned(),
            namespace: "test".to_owned(),
            phase: Phase::Failed,
            severity: Severity::Error,
            title: "🚀".repeat(500),
            text: "é".repeat(10_000),
            fields: (0..40).map(|i| (format!("key {i}"), "v".repeat(2000))).collect(),
            time: UNIX_EPOCH,
        };
        let body = body(None, &message);
        let embed = &body["embeds"][0];
        let text = |v: &Value| units(v.as_str().unwrap());
        assert!(text(&embed["title"]) <= TITLE_CHARS);
        assert!(text(&embed["description"]) <= DESCRIPTION_CHARS);
        let fields = embed["fields"].as_array().unwrap();
        assert!(!fields.is_empty() && fields.len() <= MAX_FIELDS);
        let total = text(&embed["title"])
            + text(&embed["description"])
            + text(&embed["footer"]["text"])
            + fields.iter().map(|f| text(&f["name"]) + text(&f["value"])).sum::<usize>();
        assert!(total <= EMBED_CHARS, "{total}");
        assert!(fields.iter().all(|f| text(&f["value"]) <= FIELD_VALUE_CHARS));
        assert_eq!(embed["color"], 0xA30200);
    }
}
