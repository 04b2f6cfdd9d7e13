//! The JSONPath of printer columns (client-go's `util/jsonpath` as the server uses it, with
//! missing keys allowed): fields (`.status.phase`, `['a.b']`), indexes (`[0]`, `[-1]`), slices,
//! wildcards (`[*]`, `.*`), recursive descent (`..name`) and simple filters (`[?(@.type=="Ready")]`).

use super::gofmt::{self, Num};
use serde_json::Value;
use std::cmp::Ordering;

/// One step of a path.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Wildcard,
    Recursive,
    Index(i64),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Filter(Filter),
    Union(Vec<Step>),
}

/// `[?(@.path op literal)]`, or `[?(@.path)]` for existence.
#[derive(Clone, Debug, PartialEq)]
struct Filter {
    left: Vec<Step>,
    op: Option<(String, Value)>,
}

/// A parsed printer-column path.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

fn is_field_char(c: char) -> bool {
    !matches!(c, '.' | '[' | ']' | '{' | '}' | '(' | ')' | ',' | '=' | '!' | '<' | '>' | ' ' | '\t' | '\'' | '"' | '|')
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn err(&self, what: &str) -> String {
        format!("unrecognized column definition {:?}: {what}", self.src)
    }

    fn field_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' && self.chars.get(self.pos + 1).is_some() {
                name.push(self.chars[self.pos + 1]);
                self.pos += 2;
            } else if is_field_char(c) {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }

    fn quoted(&mut self, quote: char) -> Result<String, String> {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '\\' => {
                    if let Some(n) = self.peek() {
                        s.push(n);
                        self.pos += 1;
                    }
                }
                c if c == quote => return Ok(s),
                c => s.push(c),
            }
        }
        Err(self.err("unterminated quoted string"))
    }

    fn number(&mut self) -> Option<i64> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        text.parse().ok()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Steps until the end of input or a character `stop` accepts.
    fn steps(&mut self, stop: &dyn Fn(char) -> bool) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        while let Some(c) = self.peek() {
            if stop(c) {
                break;
            }
            match c {
                '$' | '@' => self.pos += 1,
                '.' => {
                    self.pos += 1;
                    if self.eat('.') {
                        steps.push(Step::Recursive);
                    }
                    if self.eat('*') {
                        steps.push(Step::Wildcard);
                    } else if self.peek() == Some('[') {
                        // `..[0]`: handled by the bracket on the next turn.
                    } else {
                        let name = self.field_name();
                        if !name.is_empty() {
                            steps.push(Step::Field(name));
                        }
                    }
                }
                '[' => {
                    self.pos += 1;
                    steps.push(self.bracket()?);
                }
                _ => return Err(self.err(&format!("unexpected {c:?}"))),
            }
        }
        Ok(steps)
    }

    fn bracket_item(&mut self) -> Result<Step, String> {
        self.skip_spaces();
        match self.peek() {
            Some(q @ ('\'' | '"')) => {
                self.pos += 1;
                Ok(Step::Field(self.quoted(q)?))
            }
            Some('*') => {
                self.pos += 1;
                Ok(Step::Wildcard)
            }
            _ => {
                let start = self.number();
                self.skip_spaces();
                if !self.eat(':') {
                    return start.map(Step::Index).ok_or_else(|| self.err("bad index"));
                }
                let end = self.number();
                let step = if self.eat(':') { self.number() } else { None };
                Ok(Step::Slice(start, end, step))
            }
        }
    }

    fn bracket(&mut self) -> Result<Step, String> {
        self.skip_spaces();
        if self.eat('?') {
            if !self.eat('(') {
                return Err(self.err("expected ( after ?"));
            }
            self.skip_spaces();
            let left = self.steps(&|c| matches!(c, ' ' | '=' | '!' | '<' | '>' | ')'))?;
            self.skip_spaces();
            let mut op = None;
            if self.peek() != Some(')') {
                let mut o = String::new();
                while let Some(c @ ('=' | '!' | '<' | '>')) = self.peek() {
                    o.push(c);
                    self.pos += 1;
                }
                self.skip_spaces();
                let literal = match self.peek() {
                    Some(q @ ('\'' | '"')) => {
                        self.pos += 1;
                        Value::String(self.quoted(q)?)
                    }
                    _ => {
                        let start = self.pos;
                        while self.peek().is_some_and(|c| c != ')' && !c.is_whitespace()) {
                            self.pos += 1;
                        }
                        let text: String = self.chars[start..self.pos].iter().collect();
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    }
                };
                op = Some((o, literal));
                self.skip_spaces();
            }
            if !self.eat(')')
                || !{
                    self.skip_spaces();
                    self.eat(']')
                }
            {
                return Err(self.err("unterminated filter"));
            }
            return Ok(Step::Filter(Filter { left, op }));
        }
        let mut items = vec![self.bracket_item()?];
        loop {
            self.skip_spaces();
            if self.eat(']') {
                break;
            }
            if !self.eat(',') {
                return Err(self.err("unterminated ["));
            }
            items.push(self.bracket_item()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Step::Union(items) })
    }
}

impl JsonPath {
    /// Parses a column's `jsonPath` (with or without the surrounding `{}`).
    pub fn parse(path: &str) -> Result<JsonPath, String> {
        let inner = path.trim();
        let inner = inner.strip_prefix('{').and_then(|p| p.strip_suffix('}')).unwrap_or(inner);
        let mut p = Parser { chars: inner.chars().collect(), pos: 0, src: path };
        let steps = p.steps(&|_| false)?;
        Ok(JsonPath { steps })
    }

    /// Every value the path finds, in document order; missing keys and out-of-range indexes
    /// find nothing.
    pub fn find<'a>(&self, data: &'a Value) -> Vec<&'a Value> {
        eval(&self.steps, vec![data])
    }
}

fn descendants<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(v);
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                descendants(&map[k], out);
            }
        }
        Value::Array(list) => list.iter().for_each(|x| descendants(x, out)),
        _ => {}
    }
}

fn normalize(i: i64, len: i64) -> i64 {
    if i < 0 { (i + len).max(0) } else { i.min(len) }
}

fn apply<'a>(step: &Step, v: &'a Value, out: &mut Vec<&'a Value>) {
    match (step, v) {
        (Step::Field(name), Value::Object(map)) => out.extend(map.get(name)),
        (Step::Wildcard, Value::Object(map)) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.extend(keys.into_iter().map(|k| &map[k]));
        }
        (Step::Wildcard, Value::Array(list)) => out.extend(list.iter()),
        (Step::Index(i), Value::Array(list)) => {
            let len = list.len() as i64;
            let at = if *i < 0 { i + len } else { *i };
            if (0..len).contains(&at) {
                out.push(&list[at as usize]);
            }
        }
        (Step::Slice(start, end, step), Value::Array(list)) => {
            let len = list.len() as i64;
            let (s, e) = (normalize(start.unwrap_or(0), len), normalize(end.unwrap_or(len), len));
            let by = step.unwrap_or(1).max(1) as usize;
            if s < e {
                out.extend(list[s as usize..e as usize].iter().step_by(by));
            }
        }
        (Step::Filter(f), Value::Array(list)) => out.extend(list.iter().filter(|x| f.accepts(x))),
        (Step::Union(items), v) => items.iter().for_each(|s| apply(s, v, out)),
        _ => {}
    }
}

fn eval<'a>(steps: &[Step], mut current: Vec<&'a Value>) -> Vec<&'a Value> {
    for step in steps {
        let mut next = Vec::new();
        if *step == Step::Recursive {
            for v in current {
                descendants(v, &mut next);
            }
        } else {
            for v in current {
                apply(step, v, &mut next);
            }
        }
        current = next;
    }
    current
}

impl Filter {
    fn accepts(&self, item: &Value) -> bool {
        let found = eval(&self.left, vec![item]);
        let Some((op, literal)) = &self.op else { return !found.is_empty() };
        let Some(left) = found.first() else { return false };
        let ordering = match (left, literal) {
            (Value::Number(a), Value::Number(b)) => Num::of(a).as_f64().partial_cmp(&Num::of(b).as_f64()),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (a, b) => (gofmt::value_v(a) == gofmt::value_v(b)).then_some(Ordering::Equal),
        };
        match op.as_str() {
            "==" => ordering == Some(Ordering::Equal),
            "!=" => ordering != Some(Ordering::Equal),
            "<" => ordering == Some(Ordering::Less),
            ">" => ordering == Some(Ordering::Greater),
            "<=" => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
            ">=" => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn first(path: &str, data: &Value) -> Option<Value> {
        JsonPath::parse(path).unwrap().find(data).first().map(|v| (*v).clone())
    }

    #[test]
    fn printer_column_paths() {
        let data = json!({
            "status": {"phase": "Succeeded", "conditions": [{"type": "Ready", "status": "True"}, {"type": "X", "status": "False"}]},
            "spec": {"analysis": {"stepWeights": [10, 20]}, "a": [{"b": 1}, {"b": 2}]},
            "metadata": {"creationTimestamp": "2024-01-01T00:00:00Z", "labels": {"app.kubernetes.io/name": "x"}},
            "items": [{"x": "first"}]
        });
        assert_eq!(first(".status.phase", &data), Some(json!("Succeeded")));
        assert_eq!(first(".spec.analysis.stepWeights", &data), Some(json!([10, 20])));
        assert_eq!(first(".items[0].x", &data), Some(json!("first")));
        assert_eq!(first(".spec.a[*].b", &data), Some(json!(1)));
        assert_eq!(first(".spec.a[-1].b", &data), Some(json!(2)));
        assert_eq!(first(".status.conditions[?(@.type==\"Ready\")].status", &data), Some(json!("True")));
        assert_eq!(first(".metadata.labels['app.kubernetes.io/name']", &data), Some(json!("x")));
        assert_eq!(first(".metadata.labels.app\\.kubernetes\\.io/name", &data), Some(json!("x")));
        assert_eq!(first("..phase", &data), Some(json!("Succeeded")));
        assert_eq!(first("{.status.missing}", &data), None);
        assert_eq!(first(".items[5].x", &data), None);
        let all = JsonPath::parse(".spec.a[*].b").unwrap();
        assert_eq!(all.find(&data).len(), 2);
        assert!(JsonPath::parse(".spec[").is_err());
    }
}
