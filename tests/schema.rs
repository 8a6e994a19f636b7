//! `qledger schema` describes the input the parser takes: every line of the H200 story and of
//! the README's input examples validates against it, and lines the parser refuses for their
//! shape (an unknown field, a wrong type, both `license` and `licenses`, an unknown rule kind)
//! do not.

use assert_cmd::Command;
use serde_json::Value;

fn schema() -> Value {
    let out = Command::cargo_bin("qledger").expect("binary").arg("schema").output().expect("run schema");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

#[test]
fn every_story_line_validates_against_the_schema() {
    let validator = jsonschema::validator_for(&schema()).expect("a valid JSON Schema");
    let story = include_str!("../examples/h200.jsonl");
    for (n, line) in story.lines().enumerate() {
        let v: Value = serde_json::from_str(line).expect("story lines are JSON");
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "line {}: {errors:?}", n + 1);
    }
}

#[test]
fn lines_of_the_wrong_shape_do_not_validate() {
    let validator = jsonschema::validator_for(&schema()).expect("a valid JSON Schema");
    let bad = [
        r#"{"type":"order_place","order":"O","license":"L","quantity":1,"supplier":"s"}"#,
        r#"{"type":"order_placed","order":"O","license":"L","licenses":["L"],"quantity":1,"supplier":"s"}"#,
        r#"{"type":"order_placed","order":"O","quantity":1,"supplier":"s"}"#,
        r#"{"type":"order_placed","order":"O","license":"L","quantity":"1","supplier":"s"}"#,
        r#"{"type":"shipment_recorded","order":"O","quantity":1,"colour":"red"}"#,
        r#"{"type":"condition_added","license":"L","condition":"C","rule":{"kind":"max_shipment","count":3}}"#,
        r#"{"type":"party_registered","party":"a b","name":"N","country":"CN","state_backed":false,"sector":"s"}"#,
        r#"{"type":"cap_set","authority":"A","product":"P","per_party":-1}"#,
    ];
    for line in bad {
        let v: Value = serde_json::from_str(line).expect("JSON");
        assert!(!validator.is_valid(&v), "validated: {line}");
        let parsed = quotaledger::jsonl::parse_line(
            1,
            line.as_bytes(),
            &quotaledger::jsonl::Defaults { at: Default::default(), actor: "a".into() },
        );
        let admitted = parsed.map(|e| quotaledger::domain::admission::input_fields(&e.stamp, &e.event).is_ok());
        assert!(!matches!(admitted, Ok(true)), "the parser took what the schema refuses: {line}");
    }
}
