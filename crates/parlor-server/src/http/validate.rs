//! Field-by-field validation of JSON bodies, in the manner of a DRF serializer: every field
//! is checked, all errors are reported together under their camelCase names, with DRF's
//! wordings, and a field may be spelled in snake_case (the camelCase spelling wins).

use super::error::ApiError;
use serde_json::{Map, Value, json};

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// camelCase → snake_case (`isStreaming` → `is_streaming`).
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for ch in name.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// What a field must be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Must be present (create).
    Required,
    /// May be absent (partial update, optional field).
    Optional,
}

/// A JSON object being validated; errors accumulate until [`Body::finish`].
pub struct Body {
    map: Map<String, Value>,
    errors: Map<String, Value>,
}

pub(crate) const REQUIRED: &str = "This field is required.";
pub(crate) const NOT_NULL: &str = "This field may not be null.";
pub(crate) const NOT_BLANK: &str = "This field may not be blank.";

impl Body {
    pub(crate) fn new(map: Map<String, Value>) -> Self {
        Body { map, errors: Map::new() }
    }

    /// The raw value of a field by its camelCase name, or its snake_case spelling.
    pub(crate) fn raw(&self, name: &str) -> Option<&Value> {
        self.map.get(name).or_else(|| self.map.get(&snake(name)))
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// Records an error on a field.
    pub(crate) fn error(&mut self, name: &str, message: impl Into<String>) {
        let entry = self.errors.entry(name.to_string()).or_insert_with(|| json!([]));
        if let Value::Array(a) = entry {
            a.push(Value::String(message.into()));
        }
    }

    /// Records nested errors (an object or a list of objects) on a field.
    pub(crate) fn nested_error(&mut self, name: &str, errors: Value) {
        self.errors.insert(name.to_string(), errors);
    }

    pub(crate) fn non_field_error(&mut self, message: impl Into<String>) {
        self.error("nonFieldErrors", message);
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Fails with every error recorded, or succeeds when there were none.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(self.errors)) }
    }

    /// The recorded errors, for nesting under a parent field.
    pub(crate) fn into_errors(self) -> Map<String, Value> {
        self.errors
    }

    /// A present, non-null value, or the error for a missing/null one. `None` also when
    /// absent and optional.
    fn present(&mut self, name: &str, need: Need, nullable: bool) -> Option<Option<Value>> {
        match self.raw(name).cloned() {
            None => {
                if need == Need::Required {
                    self.error(name, REQUIRED);
                }
                None
            }
            Some(Value::Null) if nullable => Some(None),
            Some(Value::Null) => {
                self.error(name, NOT_NULL);
                None
            }
            Some(v) => Some(Some(v)),
        }
    }

    /// A string (DRF `CharField`). `allow_blank` false rejects `""` and whitespace.
    pub(crate) fn string(&mut self, name: &str, need: Need, allow_blank: bool, max: usize) -> Option<String> {
        let v = self.present(name, need, false)??;
        self.check_string(name, v, allow_blank, max)
    }

    /// A nullable string: `Some(None)` when null was given.
    pub(crate) fn nullable_string(&mut self, name: &str, max: usize) -> Option<Option<String>> {
        match self.present(name, Need::Optional, true)? {
            None => Some(None),
            Some(v) => self.check_string(name, v, true, max).map(Some),
        }
    }

    fn check_string(&mut self, name: &str, v: Value, allow_blank: bool, max: usize) -> Option<String> {
        let s = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            _ => {
                self.error(name, "Not a valid string.");
                return None;
            }
        };
        if !allow_blank && s.trim().is_empty() {
            self.error(name, NOT_BLANK);
            return None;
        }
        if s.chars().count() > max {
            self.error(name, format!("Ensure this field has no more than {max} characters."));
            return None;
        }
        Some(s)
    }

    pub(crate) fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.present(name, Need::Optional, false)?? {
            Value::Bool(b) => Some(b),
            Value::String(s) if ["true", "1", "yes", "on"].contains(&s.to_lowercase().as_str()) => Some(true),
            Value::String(s) if ["false", "0", "no", "off"].contains(&s.to_lowercase().as_str()) => {
                Some(false)
            }
            Value::Number(n) if n.as_i64() == Some(1) => Some(true),
            Value::Number(n) if n.as_i64() == Some(0) => Some(false),
            _ => {
                self.error(name, "Must be a valid boolean.");
                None
            }
        }
    }

    pub(crate) fn integer(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.present(name, Need::Optional, false)??;
        let n = match &v {
            Value::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            }
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        let Some(n) = n else {
            self.error(name, "A valid integer is required.");
            return None;
        };
        self.range(name, n as f64, min as f64, max as f64).then_some(n)
    }

    pub(crate) fn number(&mut self, name: &str, min: f64, max: f64) -> Option<f64> {
        let v = self.present(name, Need::Optional, false)??;
        let n = match &v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
            _ => None,
        };
        let Some(n) = n else {
            self.error(name, "A valid number is required.");
            return None;
        };
        self.range(name, n, min, max).then_some(n)
    }

    fn range(&mut self, name: &str, n: f64, min: f64, max: f64) -> bool {
        if n < min {
            self.error(name, format!("Ensure this value is greater than or equal to {min}."));
            false
        } else if n > max {
            self.error(name, format!("Ensure this value is less than or equal to {max}."));
            false
        } else {
            true
        }
    }

    /// A UUID reference field.
    pub(crate) fn id<T: From<uuid::Uuid>>(
        &mut self,
        name: &str,
        need: Need,
        nullable: bool,
    ) -> Option<Option<T>> {
        match self.present(name, need, nullable)? {
            None => Some(None),
            Some(Value::String(s)) => match uuid::Uuid::try_parse(s.trim()) {
                Ok(u) => Some(Some(T::from(u))),
                Err(_) => {
                    self.error(name, "Must be a valid UUID.");
                    None
                }
            },
            Some(_) => {
                self.error(name, "Must be a valid UUID.");
                None
            }
        }
    }

    /// One of `choices`.
    pub(crate) fn choice(&mut self, name: &str, need: Need, choices: &[&str]) -> Option<String> {
        let v = self.present(name, need, false)??;
        match &v {
            Value::String(s) if choices.contains(&s.as_str()) => Some(s.clone()),
            Value::String(s) => {
                self.error(name, format!("\"{s}\" is not a valid choice."));
                None
            }
            other => {
                self.error(name, format!("\"{}\" is not a valid choice.", display(other)));
                None
            }
        }
    }

    /// A JSON object (`contentPayload`, `queryMetadata`, `metadata`), nullable.
    pub(crate) fn object(&mut self, name: &str) -> Option<Option<Map<String, Value>>> {
        match self.present(name, Need::Optional, true)? {
            None => Some(None),
            Some(Value::Object(m)) => Some(Some(m)),
            Some(other) => {
                self.error(
                    name,
                    format!("Expected a dictionary of items but got type \"{}\".", type_name(&other)),
                );
                None
            }
        }
    }

    /// A list, raw; `None` when absent or invalid (with the error recorded).
    pub(crate) fn list(&mut self, name: &str) -> Option<Vec<Value>> {
        match self.present(name, Need::Optional, false)?? {
            Value::Array(a) => Some(a),
            other => {
                self.error(name, format!("Expected a list of items but got type \"{}\".", type_name(&other)));
                None
            }
        }
    }

    /// An http(s) URL (DRF `URLField`), nullable.
    pub(crate) fn url(&mut self, name: &str, need: Need, nullable: bool) -> Option<Option<String>> {
        let v = if nullable {
            self.nullable_string(name, 2048)?
        } else {
            Some(self.string(name, need, false, 2048)?)
        };
        match v {
            Some(u) if !is_http_url(&u) => {
                self.error(name, "Enter a valid URL.");
                None
            }
            other => Some(other),
        }
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `http://` or `https://` with a host, no spaces.
pub(crate) fn is_http_url(u: &str) -> bool {
    let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
    match rest {
        Some(r) => {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !u.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Reads a nested object field with its own validator; errors are nested under the field.
pub(crate) fn nested(body: &mut Body, name: &str, need: Need) -> Option<Body> {
    match body.raw(name).cloned() {
        None => {
            if need == Need::Required {
                body.error(name, REQUIRED);
            }
            None
        }
        Some(Value::Object(m)) => Some(Body::new(m)),
        Some(Value::Null) => {
            if need == Need::Required {
                body.error(name, NOT_NULL);
            }
            None
        }
        Some(other) => {
            body.nested_error(
                name,
                json!({"nonFieldErrors": [format!("Invalid data. Expected a dictionary, but got {}.", type_name(&other))]}),
            );
            None
        }
    }
}
