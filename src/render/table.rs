//! Rendering helpers shared by every command: terminal-safe escaping, human
//! durations and sizes, and a small column-aligned table. Data in, text out:
//! nothing here reads the system.

use std::fmt::Write as _;

pub(crate) use crate::core::human::{age, size};

/// Makes hostile text (process names, command lines, socket paths) safe to
/// print on a terminal: control characters (C0, DEL, C1: ESC and CSI can
/// rewrite the screen or fake lines) and the bidirectional-text controls
/// (U+202E and kin can reorder what an admin reads) become visible `\u{..}`
/// escapes; backslashes are doubled so an escape cannot be faked.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Like [`escape`] but leaves backslashes and newlines alone: the last line
/// of defence for text already assembled (stderr lines, which may hold
/// escaped names), so nothing unsafe reaches a terminal whoever built it.
pub(crate) fn neutralise(s: &str) -> String {
    if !s.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c != '\n' && is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that must never reach a terminal raw: controls, the Unicode
/// bidirectional formatting characters (ALM U+061C, LRM/RLM U+200E/F,
/// LRE..RLO U+202A..E, LRI..PDI U+2066..9) and the line/paragraph
/// separators U+2028/9 (which some terminals and viewers break lines on).
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Escapes, then shortens to at most `max` characters with an ellipsis.
pub(crate) fn clip(s: &str, max: usize) -> String {
    let e = escape(s);
    if e.chars().count() <= max {
        return e;
    }
    let mut t: String = e.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// A left-aligned text table; the last column is not padded.
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Self {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; cols];
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in &self.rows {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    line.push_str(c);
                } else {
                    let _ = write!(line, "{c:<w$}  ", w = widths[i]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_terminal_injection() {
        assert_eq!(escape("claude"), "claude");
        assert_eq!(escape("a\nb"), "a\\nb");
        assert_eq!(escape("\x1b[2Jx"), "\\u{1b}[2Jx");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("\u{fffd}ok"), "\u{fffd}ok");
        assert_eq!(escape("back\\slash"), "back\\\\slash");
        // Bidi controls: a right-to-left override would reorder the line.
        for c in [
            '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
            '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{2028}', '\u{2029}',
        ] {
            let e = escape(&format!("a{c}b"));
            assert_eq!(e, format!("a\\u{{{:x}}}b", c as u32));
            assert_eq!(
                neutralise(&format!("a\\{c}\nb")),
                format!("a\\\\u{{{:x}}}\nb", c as u32)
            );
        }
        // Letters of right-to-left scripts are text, not controls.
        assert_eq!(escape("\u{5d0}\u{627}"), "\u{5d0}\u{627}");
        let huge = "x".repeat(100_000);
        assert_eq!(clip(&huge, 40).chars().count(), 40);
    }

    #[test]
    fn table_aligns() {
        let mut t = Table::new(&["A", "BB"]);
        t.row(vec!["long".into(), "x".into()]);
        assert_eq!(t.render(), "A     BB\nlong  x\n");
    }
}
