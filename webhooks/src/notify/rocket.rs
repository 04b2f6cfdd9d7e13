//! The Rocket.Chat body: its Slack-compatible incoming webhook with one attachment. Pure.
//!
//! `text` is the title (the line notifications show); the attachment carries a colour bar by
//! severity, the title, the text, the facts as short (two-column) fields and the time, which
//! Rocket.Chat shows beside it. `channel` and `username` override the integration's own when
//! set. Rocket.Chat sets no small limits; texts are bounded so a runaway message stays readable.

use super::Message;
use super::text::{fit, plain};
use serde_json::{Map, Value, json};

const TITLE_CHARS: usize = 256;
const TEXT_CHARS: usize = 4000;
const MAX_FIELDS: usize = 25;
const FIELD_CHARS: usize = 1000;

pub(super) fn body(channel: Option<&str>, username: Option<&str>, message: &Message) -> Value {
    let title = fit(&message.heading(), TITLE_CHARS, plain);
    let fields: Vec<Value> = message
        .fields
        .iter()
        .take(MAX_FIELDS)
        .map(|(key, value)| json!({"title": fit(key, FIELD_CHARS, plain), "value": fit(value, FIELD_CHARS, plain), "short": true}))
        .collect();
    let attachment = json!({
        "color": message.severity.hex(),
        "title": title,
        "text": fit(&message.text, TEXT_CHARS, plain),
        "fields": fields,
        "ts": message.timestamp(),
    });

    let mut body = Map::new();
    if let Some(channel) = channel {
        body.insert("channel".to_owned(), channel.into());
    }
    if let Some(username) = username {
        body.insert("username".to_owned(), username.into());
    }
    body.insert("text".to_owned(), title.into());
    body.insert("attachments".to_owned(), vec![attachment].into());
    Value::Object(body)
}
