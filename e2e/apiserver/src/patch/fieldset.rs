//! Sets of field paths, the way `metadata.managedFields` records them (FieldsV1): a tree whose
//! steps are spelled `f:<field>`, `k:<json of the key fields>` (an item of a keyed list),
//! `v:<json>` (an item of a set) and `i:<index>`, with `.` marking a node that is itself a member.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One step of a path in its FieldsV1 spelling, e.g. `f:spec` or `k:{"name":"app"}`.
pub(crate) type Element = String;

/// The step to a map field.
pub(crate) fn field(name: &str) -> Element {
    format!("f:{name}")
}

/// The step to the item of a keyed list whose key fields have these values. Keys are sorted by
/// name, as structured-merge-diff writes them.
pub(crate) fn key_element(fields: &BTreeMap<String, Value>) -> Element {
    let object: Map<String, Value> = fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    format!("k:{}", Value::Object(object))
}

/// The step to an item of a set (a list of primitives merged by value).
pub(crate) fn value_element(value: &Value) -> Element {
    format!("v:{value}")
}

/// A path the way Kubernetes prints it in conflicts: `.spec.containers[name="app"].image`.
pub(crate) fn display_path(path: &[Element]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(name) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(json) = element.strip_prefix("k:") {
            let parts: Vec<String> = match serde_json::from_str::<Map<String, Value>>(json) {
                Ok(fields) => fields.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                Err(_) => vec![json.to_string()],
            };
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(json) = element.strip_prefix("v:") {
            out.push_str(&format!("[={json}]"));
        } else if let Some(index) = element.strip_prefix("i:") {
            out.push_str(&format!("[{index}]"));
        } else {
            out.push_str(element);
        }
    }
    out
}

/// A set of paths. The root node stands for the empty path and is never a member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldSet {
    member: bool,
    children: BTreeMap<Element, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a path.
    pub(crate) fn insert(&mut self, path: &[Element]) {
        let mut node = self;
        for element in path {
            node = node.children.entry(element.clone()).or_default();
        }
        if !path.is_empty() {
            node.member = true;
        }
    }

    /// Whether the path is a member.
    pub(crate) fn has(&self, path: &[Element]) -> bool {
        let mut node = self;
        for element in path {
            match node.children.get(element) {
                Some(child) => node = child,
                None => return false,
            }
        }
        !path.is_empty() && node.member
    }

    /// Whether the set has no member.
    pub(crate) fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Whether this node's own path is a member.
    pub(crate) fn is_member(&self) -> bool {
        self.member
    }

    /// The subset under one step, with that step removed from the front of each path.
    pub(crate) fn child(&self, element: &str) -> Option<&FieldSet> {
        self.children.get(element)
    }

    /// Every member path, in FieldsV1 order.
    pub(crate) fn paths(&self) -> Vec<Vec<Element>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<Element>, out: &mut Vec<Vec<Element>>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Paths in either set.
    pub(crate) fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (element, child) in &other.children {
            let merged = match out.children.get(element) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(element.clone(), merged);
        }
        out
    }

    /// Paths in this set and not in the other. Only members are taken away: a member of the
    /// other set does not take this set's paths below it.
    pub(crate) fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { member: self.member && !other.member, children: BTreeMap::new() };
        for (element, child) in &self.children {
            let rest = match other.children.get(element) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(element.clone(), rest);
            }
        }
        out
    }

    /// Paths in both sets.
    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { member: self.member && other.member, children: BTreeMap::new() };
        for (element, child) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(element.clone(), both);
                }
            }
        }
        out
    }

    /// This set plus every field (`f:`) step on the way to its members. Pruning uses it so that a
    /// struct whose owned fields all went away goes too. Without a schema every `f:` step counts
    /// as a named struct field.
    pub(crate) fn with_named_fields(&self) -> FieldSet {
        let mut out = FieldSet { member: self.member, children: BTreeMap::new() };
        for (element, child) in &self.children {
            let mut named = child.with_named_fields();
            if element.starts_with("f:") && !child.is_empty() {
                named.member = true;
            }
            out.children.insert(element.clone(), named);
        }
        out
    }

    /// The set without the subtree under a top-level step (the ignored `status` of a resource).
    pub(crate) fn without_top(&self, element: &str) -> FieldSet {
        let mut out = self.clone();
        out.children.remove(element);
        out
    }

    /// The FieldsV1 JSON of the set.
    pub(crate) fn to_fields_v1(&self) -> Value {
        let mut object = Map::new();
        for (element, child) in &self.children {
            if child.is_empty() {
                continue;
            }
            object.insert(element.clone(), child.node_json());
        }
        Value::Object(object)
    }

    fn node_json(&self) -> Value {
        let mut object = Map::new();
        let has_children = self.children.values().any(|c| !c.is_empty());
        if self.member && has_children {
            object.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (element, child) in &self.children {
            if !child.is_empty() {
                object.insert(element.clone(), child.node_json());
            }
        }
        Value::Object(object)
    }

    /// Reads FieldsV1 JSON. A node is a member when it is `{}` or holds `.`.
    pub(crate) fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let Value::Object(object) = value else { return Err("fieldsV1 must be a JSON object".to_string()) };
        let mut out = FieldSet::new();
        for (element, child) in object {
            if element == "." {
                continue;
            }
            out.children.insert(element.clone(), Self::node_from_json(element, child)?);
        }
        Ok(out)
    }

    fn node_from_json(element: &str, value: &Value) -> Result<FieldSet, String> {
        if !["f:", "k:", "v:", "i:"].iter().any(|p| element.starts_with(p)) {
            return Err(format!("unknown path element {element:?} in fieldsV1"));
        }
        let Value::Object(object) = value else { return Err(format!("fieldsV1 node {element:?} is not an object")) };
        let mut node = FieldSet { member: object.is_empty() || object.contains_key("."), children: BTreeMap::new() };
        for (child_element, child) in object {
            if child_element != "." {
                node.children.insert(child_element.clone(), Self::node_from_json(child_element, child)?);
            }
        }
        Ok(node)
    }
}
