//! Text for a terminal: what the ledger holds, shown so that none of its characters can act on
//! the terminal (escape sequences, carriage returns) or change how the text around it shows
//! (bidi overrides, zero-width characters, line separators).

use crate::domain::admission::is_invisible;
use std::borrow::Cow;

/// `s` with every control character (Unicode Cc), format character (Cf) and line or paragraph
/// separator written as its escape (`\u{202e}`, `\n`, `\u{1b}`); everything else as it is.
pub fn escape(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() || is_invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn controls_and_invisible_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(escape("bytedance"), "bytedance");
        assert_eq!(escape("ByteDance Ltd. 字节跳动 bytedаnce"), "ByteDance Ltd. 字节跳动 bytedаnce");
        assert_eq!(escape("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(escape("a\u{200b}b\u{2028}c"), "a\\u{200b}b\\u{2028}c");
        assert_eq!(escape("\u{1b}[2J\r\n"), "\\u{1b}[2J\\r\\n");
    }
}
