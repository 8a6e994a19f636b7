//! `qledger schema`: a JSON Schema (draft 2020-12) of one input line, derived from the same
//! table of event types the parser reads ([`crate::domain::EVENT_TYPES`]) and the rule kinds
//! ([`crate::jsonl::RULE_KINDS`]), so that editors and other programs can check events before
//! sending them. The schema states the shape (fields, types, formats); the limits and the rules
//! are the ledger's to check.

use crate::domain::event::EventType;
use crate::domain::EVENT_TYPES;
use crate::jsonl::RULE_KINDS;
use crate::limits::{ID_BYTES_MAX, ORDER_LICENSES_MAX, POLICY_SECTORS_MAX, TEXT_BYTES_MAX};
use serde_json::{json, Map, Value};

/// The schema of one JSON Lines input line.
pub fn schema() -> Value {
    let variants: Vec<Value> = EVENT_TYPES.iter().map(event_schema).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://quotaledger.invalid/schema/event.json",
        "title": "quotaledger input event (one JSON Lines line)",
        "type": "object",
        "required": ["type"],
        "properties": { "type": { "enum": EVENT_TYPES.iter().map(|t| t.name).collect::<Vec<_>>() } },
        "oneOf": variants,
    })
}

/// The fields every event may carry.
const COMMON: &[&str] = &["at", "actor", "key", "late_reason"];

fn event_schema(t: &EventType) -> Value {
    let mut properties = Map::new();
    properties.insert("type".into(), json!({ "const": t.name }));
    let mut required = vec![Value::from("type")];
    let mut one_of_licenses = false;
    for f in t.required {
        if let Some((a, b)) = f.split_once('|') {
            properties.insert(a.into(), field(a));
            properties.insert(b.into(), field(b));
            one_of_licenses = true;
        } else {
            properties.insert((*f).into(), field(f));
            required.push((*f).into());
        }
    }
    for f in t.optional.iter().chain(COMMON) {
        properties.insert((*f).into(), field(f));
    }
    let mut s = json!({
        "title": t.name,
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    });
    if one_of_licenses {
        s["oneOf"] = json!([{ "required": ["license"] }, { "required": ["licenses"] }]);
    }
    s
}

fn id() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": ID_BYTES_MAX, "pattern": "^[!-~]+$" })
}

fn text() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": TEXT_BYTES_MAX })
}

fn count() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
}

/// The schema of one field, by its JSON name.
fn field(name: &str) -> Value {
    match name {
        "party" | "license" | "licensee" | "order" | "condition" | "policy" | "key" => id(),
        "licenses" => json!({ "type": "array", "items": id(), "minItems": 1, "maxItems": ORDER_LICENSES_MAX }),
        "quantity" | "domestic_quantity" | "round" | "ceiling" | "per_party" | "refers_to" => count(),
        "state_backed" | "final" | "hold" | "confusable_ok" => json!({ "type": "boolean" }),
        "valid_from" | "valid_until" => json!({ "type": "string", "format": "date" }),
        "at" => json!({ "type": "string", "format": "date-time" }),
        "rule" => rule(),
        "deny" => json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "state_backed": { "type": "boolean" },
                "sectors": { "type": "array", "items": text(), "maxItems": POLICY_SECTORS_MAX },
            },
        }),
        _ => text(),
    }
}

fn rule() -> Value {
    let kinds: Vec<Value> = RULE_KINDS
        .iter()
        .map(|(kind, fields)| {
            let mut properties = Map::new();
            properties.insert("kind".into(), json!({ "const": kind }));
            for f in *fields {
                properties.insert((*f).into(), if *f == "text" { text() } else { count() });
            }
            let mut required = vec![Value::from("kind")];
            required.extend(fields.iter().map(|f| Value::from(*f)));
            json!({ "type": "object", "required": required, "properties": properties, "additionalProperties": false })
        })
        .collect();
    json!({ "oneOf": kinds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_appendable_type_has_its_variant_and_nothing_else_is_allowed() {
        let s = schema();
        let variants = s["oneOf"].as_array().expect("oneOf");
        assert_eq!(variants.len(), EVENT_TYPES.len());
        for (v, t) in variants.iter().zip(EVENT_TYPES) {
            assert_eq!(v["properties"]["type"]["const"], t.name);
            assert_eq!(v["additionalProperties"], false);
        }
        let order = variants.iter().find(|v| v["title"] == "order_placed").expect("order_placed");
        assert!(order["properties"]["licenses"].is_object() && order["oneOf"].is_array());
    }
}
