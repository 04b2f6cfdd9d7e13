//! The Google Chat body: a message with one `cardsV2` card, and a plain `text` that Chat shows
//! in notifications and above the card. Pure.
//!
//! The card's header is the title with `namespace/name · severity` below it; its one section
//! holds the text as a paragraph and one decorated text per fact (label above, value below,
//! wrapped). Card texts are simple HTML, so `&`, `<` and `>` are escaped; labels are plain.
//! A card holds at most 100 widgets and a message 32 KB, so facts and texts are bounded.
//! Chat webhooks post to their own space as the webhook's name: channel and username are
//! not used.

use super::Message;
use super::text::{fit, html, plain};
use serde_json::{Value, json};

const TITLE_CHARS: usize = 256;
const TEXT_CHARS: usize = 4000;
/// Facts shown: the card's 100 widgets less the paragraph, with room to spare.
const MAX_FIELDS: usize = 50;
const FIELD_CHARS: usize = 500;

pub(super) fn body(message: &Message) -> Value {
    let title = fit(&message.heading(), TITLE_CHARS, plain);
    let mut widgets = Vec::with_capacity(1 + message.fields.len().min(MAX_FIELDS));
    if !message.text.trim().is_empty() {
        widgets.push(json!({"textParagraph": {"text": fit(&message.text, TEXT_CHARS, html)}}));
    }
    for (key, value) in message.fields.iter().take(MAX_FIELDS) {
        widgets.push(json!({"decoratedText": {
            "topLabel": fit(key, FIELD_CHARS, plain),
            "text": fit(value, FIELD_CHARS, html),
            "wrapText": true,
        }}));
    }
    let subtitle = fit(&format!("{} · {}", message.subject(), message.severity), TITLE_CHARS, plain);
    json!({
        "text": title,
        "cardsV2": [{
            "cardId": "fledge",
            "card": {
                "header": {"title": title, "subtitle": subtitle},
                "sections": [{"widgets": widgets}],
            },
        }],
    })
}
