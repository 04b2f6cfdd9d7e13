//! The Slack body: an incoming-webhook message with Block Kit blocks. Pure.
//!
//! `text` is the title, which Slack shows in notifications and wherever blocks cannot be
//! drawn; the blocks are a header (the title), a section with the text, a section with the
//! facts as two-column fields and a context line (severity, `namespace/name`, phase). Texts in
//! mrkdwn have `&`, `<` and `>` escaped, as Slack requires; every text is kept within Block
//! Kit's limits. `channel` and `username` are sent only when set: Slack apps' webhooks post to
//! their own channel and ignore them, `chat.postMessage` (with a token) needs `channel`.

use super::text::{fit, mrkdwn, plain, units};
use super::{Message, Phase};
use serde_json::{Map, Value, json};

/// A header block's plain text.
const HEADER_CHARS: usize = 150;
/// A section's text.
const SECTION_CHARS: usize = 3000;
/// Fields in one section.
const MAX_FIELDS: usize = 10;
/// One field's text.
const FIELD_CHARS: usize = 2000;
/// The top-level `text` is allowed far more; it is a notification line, so keep it short.
const FALLBACK_CHARS: usize = 3000;

pub(super) fn body(channel: Option<&str>, username: Option<&str>, message: &Message) -> Value {
    let heading = message.heading();
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": fit(&heading, HEADER_CHARS, plain)},
    })];
    if !message.text.trim().is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": fit(&message.text, SECTION_CHARS, mrkdwn)},
        }));
    }
    if !message.fields.is_empty() {
        let fields: Vec<Value> = message
            .fields
            .iter()
            .take(MAX_FIELDS)
            .map(|(key, value)| {
                // The key is bold; its length is taken from the field's budget first.
                let key = fit(key, FIELD_CHARS / 4, mrkdwn);
                let value = fit(value, FIELD_CHARS - units(&key) - 3, mrkdwn);
                json!({"type": "mrkdwn", "text": format!("*{key}*\n{value}")})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let mut context = format!("{} · {}", message.severity, fit(&message.subject(), 500, mrkdwn));
    if message.phase != Phase::Unset {
        context.push_str(" · ");
        context.push_str(message.phase.as_str());
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));

    let mut body = Map::new();
    if let Some(channel) = channel {
        body.insert("channel".to_owned(), channel.into());
    }
    if let Some(username) = username {
        body.insert("username".to_owned(), username.into());
    }
    body.insert("text".to_owned(), fit(&heading, FALLBACK_CHARS, mrkdwn).into());
    body.insert("blocks".to_owned(), blocks.into());
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::super::Severity;
    use super::*;
    use std::time::UNIX_EPOCH;

    fn mk_message(text: &str, fields: usize) -> Message {
        Message {
            name: "podinfo".to_owned(),
            namespace: "test".to_owned(),
            phase: Phase::Progressing,
            severity: Severity::Warn,
            title: "podinfo.test <halted> & waiting".to_owned(),
            text: text.to_owned(),
            fields: (0..fields).map(|i| (format!("Key {i}"), format!("value <{i}>"))).collect(),
            time: UNIX_EPOCH,
        }
    }

    #[test]
    fn mrkdwn_texts_are_escaped_and_the_header_is_plain() {
        let body = body(None, None, &mk_message("latency p99 > 500ms & errors < 1%", 1));
        assert_eq!(body["text"], "podinfo.test &lt;halted&gt; &amp; waiting");
        assert_eq!(body["blocks"][0]["text"]["text"], "podinfo.test <halted> & waiting");
        assert_eq!(body["blocks"][1]["text"]["text"], "latency p99 &gt; 500ms &amp; errors &lt; 1%");
        assert_eq!(body["blocks"][2]["fields"][0]["text"], "*Key 0*\nvalue &lt;0&gt;");
        assert_eq!(body["blocks"][3]["elements"][0]["text"], "warn · test/podinfo · Progressing");
        assert!(body.get("channel").is_none() && body.get("username").is_none());
    }

    #[test]
    fn long_texts_and_many_fields_stay_within_block_kit_limits() {
        let body = body(Some("#releases"), None, &mk_message(&"ünïcødé & 🚀 ".repeat(1000), 25));
        let section = body["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(units(section) <= SECTION_CHARS && section.ends_with('…'), "{}", units(section));
        assert_eq!(body["blocks"][2]["fields"].as_array().unwrap().len(), MAX_FIELDS);
        assert_eq!(body["channel"], "#releases");
    }

    #[test]
    fn empty_text_and_fields_leave_their_blocks_out() {
        let mut message = mk_message("", 0);
        message.title.clear();
        let body = body(None, None, &message);
        let kinds: Vec<&str> = body["blocks"].as_array().unwrap().iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["header", "context"]);
        assert_eq!(body["blocks"][0]["text"]["text"], "podinfo.test");
    }
}
