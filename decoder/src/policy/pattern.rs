//! Policy strings as patterns: IAM wildcards (`*` any run of characters, crossing `/`;
//! `?` one character) and policy variables (`${iot:ClientId}`), with the escapes `${*}`,
//! `${?}` and `${$}` for the literal characters. MQTT's `+` and `#` are ordinary
//! characters here: a policy resource `topic/a/+` matches only the topic named `a/+`.

/// One piece of a policy string before its variables are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Lit(char),
    Star,
    Quest,
    /// `${name}`, the name as written.
    Var(String),
}

/// One piece of a pattern ready to match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tok {
    Lit(char),
    Star,
    Quest,
}

/// One piece of what is matched: a known character, or a part of the resource iotscope does
/// not know (the region or the account when not given), which only `*` can stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sub {
    Char(char),
    Unknown,
}

/// Splits a policy string into pieces. `${` without a closing `}` is literal text, as a
/// string that names no variable.
pub fn parse(s: &str) -> Vec<Piece> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' && chars.get(i + 1) == Some(&'{') {
            if let Some(len) = chars[i + 2..].iter().position(|&c| c == '}') {
                let name: String = chars[i + 2..i + 2 + len].iter().collect();
                out.push(match name.as_str() {
                    "*" => Piece::Lit('*'),
                    "?" => Piece::Lit('?'),
                    "$" => Piece::Lit('$'),
                    _ => Piece::Var(name),
                });
                i += len + 3;
                continue;
            }
        }
        out.push(match c {
            '*' => Piece::Star,
            '?' => Piece::Quest,
            c => Piece::Lit(c),
        });
        i += 1;
    }
    out
}

/// The names of the variables a policy string uses, in order.
pub fn variables(s: &str) -> Vec<String> {
    parse(s)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            _ => None,
        })
        .collect()
}

/// Known text to match against.
pub fn known(s: &str) -> Vec<Sub> {
    s.chars().map(Sub::Char).collect()
}

/// Does `pattern` match all of `subject`? Greedy with one backtrack point per `*`, which is
/// enough for `*`-and-`?` patterns and linear in practice. `fold_case` compares ASCII
/// letters without case (action names); resources compare exactly.
pub fn matches(pattern: &[Tok], subject: &[Sub], fold_case: bool) -> bool {
    let same = |a: char, b: char| {
        if fold_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut s) = (0usize, 0usize);
    let mut back: Option<(usize, usize)> = None;
    while s < subject.len() {
        let step = match (pattern.get(p), subject[s]) {
            (Some(Tok::Lit(a)), Sub::Char(b)) => same(*a, b),
            (Some(Tok::Quest), Sub::Char(_)) => true,
            _ => false,
        };
        if step {
            p += 1;
            s += 1;
        } else if let Some(Tok::Star) = pattern.get(p) {
            back = Some((p, s));
            p += 1;
        } else if let Some((bp, bs)) = back {
            p = bp + 1;
            s = bs + 1;
            back = Some((bp, bs + 1));
        } else {
            return false;
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|t| *t == Tok::Star)
}

/// A pattern with no variables (actions, condition values without `${`).
pub fn literal_pattern(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    for p in parse(s) {
        match p {
            Piece::Lit(c) => out.push(Tok::Lit(c)),
            Piece::Star => out.push(Tok::Star),
            Piece::Quest => out.push(Tok::Quest),
            // Where no variable can be known (action names), `${x}` is just text.
            Piece::Var(v) => out.extend(format!("${{{v}}}").chars().map(Tok::Lit)),
        }
    }
    out
}

/// Writes `text` so that a policy reads it literally: `*`, `?` and `${` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str("${*}"),
            '?' => out.push_str("${?}"),
            '$' if chars.peek() == Some(&'{') => out.push_str("${$}"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        matches(&literal_pattern(p), &known(s), false)
    }

    #[test]
    fn star_crosses_levels_and_question_is_one_character() {
        assert!(m("topic/a/*", "topic/a/b/c/d"));
        assert!(m("topic/a/*", "topic/a/"));
        assert!(!m("topic/a/*", "topic/a"));
        assert!(m("topic/?/c", "topic/b/c"));
        assert!(!m("topic/?/c", "topic/bb/c"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn mqtt_wildcards_are_plain_characters() {
        assert!(m("topic/a/+", "topic/a/+"));
        assert!(!m("topic/a/+", "topic/a/b"));
        assert!(!m("topic/a/#", "topic/a/b/c"));
        assert!(m("topicfilter/a/#", "topicfilter/a/#"));
    }

    #[test]
    fn escapes_are_literal() {
        assert_eq!(
            parse("${*}${?}${$}"),
            vec![Piece::Lit('*'), Piece::Lit('?'), Piece::Lit('$')]
        );
        assert!(m("a${*}", "a*"));
        assert!(!m("a${*}", "ab"));
        assert!(m("$aws/things", "$aws/things"));
        assert_eq!(
            parse("a${b"),
            known("a${b")
                .iter()
                .map(|s| match s {
                    Sub::Char(c) => Piece::Lit(*c),
                    Sub::Unknown => Piece::Star,
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn unknown_parts_match_only_a_star() {
        let subject = [Sub::Char('a'), Sub::Unknown, Sub::Char('b')];
        assert!(matches(&literal_pattern("a*b"), &subject, false));
        assert!(!matches(&literal_pattern("a?b"), &subject, false));
        assert!(!matches(&literal_pattern("axb"), &subject, false));
    }

    #[test]
    fn escape_round_trips() {
        for s in ["a*b", "x?y", "${iot:ClientId}", "$aws/things/+/#"] {
            assert!(m(&escape(s), s), "{s}");
        }
    }

    #[test]
    fn case_folding_is_for_actions_only() {
        assert!(matches(
            &literal_pattern("IOT:connect"),
            &known("iot:Connect"),
            true
        ));
        assert!(!m("topic/A", "topic/a"));
    }
}
