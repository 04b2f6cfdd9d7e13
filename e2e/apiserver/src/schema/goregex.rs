//! Go RE2 patterns (the `pattern` keyword) on the `regex` crate. The syntaxes nearly agree; the
//! differences that change results are fixed here: Go's `\d`, `\w`, `\s` and `\b` are ASCII-only,
//! `[` and `&&` inside a class are literals in Go, and Go has `\Q…\E`.

use regex::Regex;

fn perl_class(c: char, in_class: bool) -> Option<&'static str> {
    Some(match (c, in_class) {
        ('d', false) => "[0-9]",
        ('D', _) => "[^0-9]",
        ('w', false) => "[0-9A-Za-z_]",
        ('W', _) => "[^0-9A-Za-z_]",
        ('s', false) => "[\\t\\n\\f\\r ]",
        ('S', _) => "[^\\t\\n\\f\\r ]",
        ('d', true) => "0-9",
        ('w', true) => "0-9A-Za-z_",
        ('s', true) => "\\t\\n\\f\\r ",
        ('b', false) => "(?-u:\\b)",
        ('B', false) => "(?-u:\\B)",
        _ => return None,
    })
}

/// Rewrites a Go pattern into an equivalent one for the `regex` crate.
pub(crate) fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    // Index in `out` just after a class opened, to let a leading `]` stay literal.
    let mut class_start = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&next) = chars.get(i + 1) else {
                out.push('\\');
                break;
            };
            if next == 'Q' && !in_class {
                // \Q…\E quotes a literal run.
                let rest: String = chars[i + 2..].iter().collect();
                let (literal, after) = match rest.find("\\E") {
                    Some(end) => (rest[..end].to_string(), end + 2),
                    None => (rest.clone(), rest.len()),
                };
                out.push_str(&regex::escape(&literal));
                i += 2 + rest[..after].chars().count();
                continue;
            }
            match perl_class(next, in_class) {
                Some(replacement) => out.push_str(replacement),
                None => {
                    out.push('\\');
                    out.push(next);
                }
            }
            i += 2;
            continue;
        }
        if in_class {
            match c {
                ']' if out.len() > class_start => {
                    in_class = false;
                    out.push(']');
                }
                '[' if chars.get(i + 1) == Some(&':') => {
                    // A POSIX class such as [:alpha:] is the same in both.
                    let rest: String = chars[i..].iter().collect();
                    let end = rest.find(":]").map_or(rest.len(), |e| e + 2);
                    out.push_str(&rest[..end]);
                    i += rest[..end].chars().count();
                    continue;
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '-' if chars.get(i + 1) == Some(&'-') => out.push_str("-\\"),
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        out.push(c);
        if c == '[' {
            in_class = true;
            if chars.get(i + 1) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            class_start = out.len();
        }
        i += 1;
    }
    out
}

/// Compiles a Go pattern; the error text is the `regex` crate's, since Go's cannot be had.
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(&translate(pattern)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_are_ascii() {
        let r = compile(r"^\d+$").unwrap();
        assert!(r.is_match("123"));
        assert!(!r.is_match("١٢٣"));
        let r = compile(r"^[\w.-]+$").unwrap();
        assert!(r.is_match("a_b.c-d") && !r.is_match("é"));
    }

    #[test]
    fn go_only_literals_compile() {
        assert!(compile(r"^[a[]$").unwrap().is_match("["));
        assert!(compile(r"^[&&]$").unwrap().is_match("&"));
        assert!(compile(r"^\Q*.+\E$").unwrap().is_match("*.+"));
        assert!(compile(r"^[]a]$").unwrap().is_match("]"));
        assert!(compile(r"^[[:alpha:]]+$").unwrap().is_match("abc"));
    }
}
