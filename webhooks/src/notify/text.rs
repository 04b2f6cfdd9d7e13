//! Fitting text into a chat service's limits and escaping it for the service's markup. Pure.
//!
//! Lengths are counted in UTF-16 code units: that is what the services' validators count (an
//! emoji is two), and it is never less than the number of characters, so text that fits by
//! this count fits by any count a service might use. Text is only ever cut between
//! characters, and a cut is marked with `…`.

/// Written where text was cut.
const ELLIPSIS: char = '…';

/// How a character is written in some markup: `None` when it stands for itself.
pub(crate) type Escape = fn(char) -> Option<&'static str>;

/// Every character stands for itself (plain text, JSON strings).
pub(crate) fn plain(_: char) -> Option<&'static str> {
    None
}

/// Slack's mrkdwn: `&`, `<` and `>` are control characters and must be sent as entities, or
/// `<` starts a link and `&` an entity. Slack decodes only these three.
pub(crate) fn mrkdwn(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// The simple HTML Google Chat cards understand: the same three characters as entities.
pub(crate) fn html(c: char) -> Option<&'static str> {
    mrkdwn(c)
}

/// `text` escaped with `escape` and cut to at most `max` UTF-16 code units (the `…` included).
/// An escape sequence is never cut in half: it is kept whole or left out with the rest.
pub(crate) fn fit(text: &str, max: usize, escape: Escape) -> String {
    // Escapes are ASCII, so their byte length is their UTF-16 length.
    let units = |c: char| escape(c).map_or(c.len_utf16(), str::len);
    let whole = text.chars().map(units).sum::<usize>() <= max;
    let budget = if whole { max } else { max.saturating_sub(ELLIPSIS.len_utf16()) };
    let mut out = String::with_capacity(text.len().min(4 * max));
    let mut used = 0;
    for c in text.chars() {
        let width = units(c);
        if used + width > budget {
            break;
        }
        used += width;
        match escape(c) {
            Some(escaped) => out.push_str(escaped),
            None => out.push(c),
        }
    }
    if !whole && max >= ELLIPSIS.len_utf16() {
        out.push(ELLIPSIS);
    }
    out
}

/// UTF-16 length, as [`fit`] counts.
pub(crate) fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(fit("podinfo.test rolled back", 150, plain), "podinfo.test rolled back");
        assert_eq!(fit("", 10, plain), "");
        assert_eq!(fit("abc", 3, plain), "abc");
    }

    #[test]
    fn long_multibyte_text_is_cut_between_characters() {
        // 'é' is 2 bytes and 1 unit, '🚀' is 4 bytes and 2 units, '漢' is 3 bytes and 1 unit.
        let text = "é🚀漢".repeat(1000);
        for max in [1, 2, 3, 4, 5, 150, 3000] {
            let cut = fit(&text, max, plain);
            assert!(units(&cut) <= max, "{max}: {} units", units(&cut));
            assert!(cut.ends_with('…'), "{max}: {cut}");
            let kept = cut.trim_end_matches('…');
            assert!(text.starts_with(kept), "{max}: the kept part is a prefix");
        }
        assert_eq!(fit(&text, 4, plain), "é🚀…");
        // The rocket needs two units; with one left it is left out, not split.
        assert_eq!(fit(&text, 3, plain), "é…");
        assert_eq!(fit(&text, 0, plain), "");
    }

    #[test]
    fn mrkdwn_escapes_control_characters_and_never_cuts_an_entity() {
        assert_eq!(fit("p99 < 500ms & errors > 1%", 100, mrkdwn), "p99 &lt; 500ms &amp; errors &gt; 1%");
        assert_eq!(fit("<https://evil|click>", 100, mrkdwn), "&lt;https://evil|click&gt;");
        // "a&b" escapes to 7 units; below that the entity does not fit beside the `…`, so it
        // is left out whole rather than sent as a broken "&am".
        assert_eq!(fit("a&b", 5, mrkdwn), "a…");
        assert_eq!(fit("a&b", 6, mrkdwn), "a…");
        assert_eq!(fit("a&b", 7, mrkdwn), "a&amp;b");
    }
}
