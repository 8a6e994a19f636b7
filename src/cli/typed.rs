//! Typed commands: one subcommand per event type (`qledger grant ...`, `qledger order ...`),
//! with flags named like the JSON fields. Each builds exactly the JSON line `append` would take
//! and sends it through the same parser and rules, so a typed command and `append` can never
//! disagree. `--dry-run` shows the verdict and the effect without writing.

use super::terminal::escape;
use super::ui::thousands;
use crate::domain::QuotaState;
use crate::ledger::DryRun;
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use std::io::Write;

/// Flags every typed command takes besides its event's fields.
#[derive(Debug, Args)]
pub struct EventFlags {
    /// Effective time (RFC 3339) [default: now]
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Who records it [default: --actor of the call, $QLEDGER_ACTOR, $USER]
    #[arg(long)]
    pub actor: Option<String>,
    /// Idempotency key: the same key with the same event again is skipped
    #[arg(long)]
    pub key: Option<String>,
    /// A late entry: why it is dated before facts already recorded
    #[arg(long, value_name = "TEXT")]
    pub late_reason: Option<String>,
    /// Accept a date further ahead of the clock than the ledger's margin (recorded as such)
    #[arg(long)]
    pub allow_future: bool,
    /// Show the verdict and the effect, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

/// A condition's rule, as flags: `--rule KIND` and its parameters.
#[derive(Debug, Args)]
pub struct RuleFlags {
    /// bundle_ratio, max_per_order, max_shipments, end_use or reporting
    #[arg(long, value_name = "KIND")]
    pub rule: String,
    /// bundle_ratio: domestic units ...
    #[arg(long)]
    pub domestic: Option<u64>,
    /// bundle_ratio: ... per this many units ordered
    #[arg(long)]
    pub per: Option<u64>,
    /// max_per_order: the largest order
    #[arg(long)]
    pub units: Option<u64>,
    /// max_shipments: the most shipments
    #[arg(long)]
    pub count: Option<u64>,
    /// end_use, reporting: the text
    #[arg(long)]
    pub text: Option<String>,
}

/// `qledger condition add|finalize|withdraw`.
#[derive(Debug, Subcommand)]
#[allow(missing_docs)] // a flag's name is its JSON field (see README "Input")
pub enum ConditionCommand {
    /// Add a condition to a license (pending unless --final)
    #[command(after_help = super::examples::CONDITION_ADD)]
    Add {
        #[arg(long)]
        license: String,
        #[arg(long)]
        condition: String,
        #[command(flatten)]
        rule: RuleFlags,
        /// In force at once instead of pending
        #[arg(long = "final")]
        is_final: bool,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Make a pending condition final (held orders on the license are re-checked)
    #[command(after_help = super::examples::CONDITION_FINALIZE)]
    Finalize {
        #[arg(long)]
        license: String,
        #[arg(long)]
        condition: String,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Withdraw a condition (held orders on the license are re-checked)
    #[command(after_help = super::examples::CONDITION_WITHDRAW)]
    Withdraw {
        #[arg(long)]
        license: String,
        #[arg(long)]
        condition: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        flags: EventFlags,
    },
}

/// `qledger round open|close`.
#[derive(Debug, Subcommand)]
#[allow(missing_docs)] // a flag's name is its JSON field (see README "Input")
pub enum RoundCommand {
    /// Open an approval round with a ceiling on what its licenses may be granted
    #[command(after_help = super::examples::ROUND_OPEN)]
    Open {
        #[arg(long)]
        authority: String,
        #[arg(long)]
        round: u64,
        #[arg(long)]
        product: String,
        #[arg(long)]
        ceiling: u64,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Close an open round
    #[command(after_help = super::examples::ROUND_CLOSE)]
    Close {
        #[arg(long)]
        authority: String,
        #[arg(long)]
        round: u64,
        #[command(flatten)]
        flags: EventFlags,
    },
}

/// `qledger policy set|lift`.
#[derive(Debug, Subcommand)]
#[allow(missing_docs)] // a flag's name is its JSON field (see README "Input")
pub enum PolicyCommand {
    /// Deny classes of buyers licenses and orders of an authority for a product
    #[command(after_help = super::examples::POLICY_SET)]
    Set {
        #[arg(long)]
        policy: String,
        #[arg(long)]
        authority: String,
        #[arg(long)]
        product: String,
        /// Deny every state-backed party
        #[arg(long)]
        deny_state_backed: bool,
        /// Deny every party of this sector (repeat for more)
        #[arg(long, value_name = "SECTOR")]
        deny_sector: Vec<String>,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// End a policy
    #[command(after_help = super::examples::POLICY_LIFT)]
    Lift {
        #[arg(long)]
        policy: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        flags: EventFlags,
    },
}

/// One typed command per event type.
#[derive(Debug, Subcommand)]
#[allow(missing_docs)] // a flag's name is its JSON field (see README "Input")
pub enum EventCommand {
    /// Record a party_registered event
    #[command(after_help = super::examples::REGISTER)]
    Register {
        #[arg(long)]
        party: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        country: String,
        /// true or false
        #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
        state_backed: bool,
        #[arg(long)]
        sector: String,
        /// Register a party that looks like an existing one (not recorded)
        #[arg(long)]
        confusable_ok: bool,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Record a party_restricted event
    #[command(after_help = super::examples::RESTRICT)]
    Restrict {
        #[arg(long)]
        party: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Record a license_granted event
    #[command(after_help = super::examples::GRANT)]
    Grant {
        #[arg(long)]
        license: String,
        #[arg(long)]
        authority: String,
        #[arg(long)]
        licensee: String,
        #[arg(long)]
        product: String,
        #[arg(long)]
        quantity: u64,
        #[arg(long, value_name = "DATE")]
        valid_from: String,
        #[arg(long, value_name = "DATE")]
        valid_until: String,
        /// Approval round [default: 1]
        #[arg(long)]
        round: Option<u64>,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// condition_added, condition_finalized, condition_withdrawn
    #[command(subcommand, after_help = super::examples::CONDITION)]
    Condition(ConditionCommand),
    /// Record an order_placed event (--license once per gate: the buyer's first)
    #[command(after_help = super::examples::ORDER)]
    Order {
        #[arg(long)]
        order: String,
        /// A license the order draws on; repeat for every gate, the buyer's first
        #[arg(long, required = true)]
        license: Vec<String>,
        #[arg(long)]
        quantity: u64,
        /// Domestic units bundled [default: 0]
        #[arg(long)]
        domestic_quantity: Option<u64>,
        #[arg(long)]
        supplier: String,
        /// Hold the order while a license has pending conditions, instead of refusing it
        #[arg(long)]
        hold: bool,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Record an order_cancelled event
    #[command(after_help = super::examples::CANCEL)]
    Cancel {
        #[arg(long)]
        order: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Record a shipment_recorded event
    #[command(after_help = super::examples::SHIP)]
    Ship {
        #[arg(long)]
        order: String,
        #[arg(long)]
        quantity: u64,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Record a shipment_corrected event (four eyes: --approved-by is not the actor)
    #[command(after_help = super::examples::CORRECT)]
    Correct {
        #[arg(long, value_name = "SEQ")]
        refers_to: u64,
        #[arg(long)]
        quantity: u64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        approved_by: String,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Record a quota_amended event
    #[command(after_help = super::examples::AMEND)]
    Amend {
        #[arg(long)]
        license: String,
        #[arg(long)]
        quantity: u64,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Record a license_suspended event
    #[command(after_help = super::examples::SUSPEND)]
    Suspend {
        #[arg(long)]
        license: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Record a license_reinstated event
    #[command(after_help = super::examples::REINSTATE)]
    Reinstate {
        #[arg(long)]
        license: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Record a license_revoked event
    #[command(after_help = super::examples::REVOKE)]
    Revoke {
        #[arg(long)]
        license: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// round_opened, round_closed
    #[command(subcommand, after_help = super::examples::ROUND)]
    Round(RoundCommand),
    /// policy_set, policy_lifted
    #[command(subcommand, after_help = super::examples::POLICY)]
    Policy(PolicyCommand),
    /// Record an exemption_granted event
    #[command(after_help = super::examples::EXEMPT)]
    Exempt {
        #[arg(long)]
        policy: String,
        #[arg(long)]
        party: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        flags: EventFlags,
    },
    /// Record a cap_set event: the most one party may be granted by an authority for a product
    #[command(after_help = super::examples::CAP)]
    Cap {
        #[arg(long)]
        authority: String,
        #[arg(long)]
        product: String,
        #[arg(long)]
        per_party: u64,
        #[command(flatten)]
        flags: EventFlags,
    },
}

/// A JSON object from `(field, value)` pairs, `None` values left out.
fn object(ty: &str, fields: Vec<(&str, Option<Value>)>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), ty.into());
    for (k, v) in fields {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    }
    m
}

fn some<T: Into<Value>>(v: T) -> Option<Value> {
    Some(v.into())
}

impl RuleFlags {
    fn json(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), self.rule.clone().into());
        let params = [("domestic", self.domestic), ("per", self.per), ("units", self.units), ("count", self.count)];
        for (k, v) in params {
            if let Some(v) = v {
                m.insert(k.into(), v.into());
            }
        }
        if let Some(t) = &self.text {
            m.insert("text".into(), t.clone().into());
        }
        Value::Object(m)
    }
}

impl ConditionCommand {
    fn line(&self) -> (Map<String, Value>, &EventFlags) {
        match self {
            ConditionCommand::Add { license, condition, rule, is_final, flags } => (
                object(
                    "condition_added",
                    vec![
                        ("license", some(license.as_str())),
                        ("condition", some(condition.as_str())),
                        ("rule", Some(rule.json())),
                        ("final", some(*is_final)),
                    ],
                ),
                flags,
            ),
            ConditionCommand::Finalize { license, condition, flags } => (
                object(
                    "condition_finalized",
                    vec![("license", some(license.as_str())), ("condition", some(condition.as_str()))],
                ),
                flags,
            ),
            ConditionCommand::Withdraw { license, condition, reason, flags } => (
                object(
                    "condition_withdrawn",
                    vec![
                        ("license", some(license.as_str())),
                        ("condition", some(condition.as_str())),
                        ("reason", some(reason.as_str())),
                    ],
                ),
                flags,
            ),
        }
    }
}

impl RoundCommand {
    fn line(&self) -> (Map<String, Value>, &EventFlags) {
        match self {
            RoundCommand::Open { authority, round, product, ceiling, flags } => (
                object(
                    "round_opened",
                    vec![
                        ("authority", some(authority.as_str())),
                        ("round", some(*round)),
                        ("product", some(product.as_str())),
                        ("ceiling", some(*ceiling)),
                    ],
                ),
                flags,
            ),
            RoundCommand::Close { authority, round, flags } => {
                (object("round_closed", vec![("authority", some(authority.as_str())), ("round", some(*round))]), flags)
            }
        }
    }
}

impl PolicyCommand {
    fn line(&self) -> (Map<String, Value>, &EventFlags) {
        match self {
            PolicyCommand::Set { policy, authority, product, deny_state_backed, deny_sector, reason, flags } => (
                object(
                    "policy_set",
                    vec![
                        ("policy", some(policy.as_str())),
                        ("authority", some(authority.as_str())),
                        ("product", some(product.as_str())),
                        ("deny", Some(json!({ "state_backed": deny_state_backed, "sectors": deny_sector }))),
                        ("reason", some(reason.as_str())),
                    ],
                ),
                flags,
            ),
            PolicyCommand::Lift { policy, reason, flags } => (
                object("policy_lifted", vec![("policy", some(policy.as_str())), ("reason", some(reason.as_str()))]),
                flags,
            ),
        }
    }
}

impl EventCommand {
    /// The JSON line (without the common flags) and the common flags.
    pub fn line(&self) -> (Map<String, Value>, &EventFlags) {
        match self {
            EventCommand::Condition(c) => c.line(),
            EventCommand::Round(r) => r.line(),
            EventCommand::Policy(p) => p.line(),
            other => other.simple_line(),
        }
    }

    fn simple_line(&self) -> (Map<String, Value>, &EventFlags) {
        match self {
            EventCommand::Register { party, name, country, state_backed, sector, confusable_ok, flags } => (
                object(
                    "party_registered",
                    vec![
                        ("party", some(party.as_str())),
                        ("name", some(name.as_str())),
                        ("country", some(country.as_str())),
                        ("state_backed", some(*state_backed)),
                        ("sector", some(sector.as_str())),
                        ("confusable_ok", confusable_ok.then_some(Value::Bool(true))),
                    ],
                ),
                flags,
            ),
            EventCommand::Grant {
                license,
                authority,
                licensee,
                product,
                quantity,
                valid_from,
                valid_until,
                round,
                flags,
            } => (
                object(
                    "license_granted",
                    vec![
                        ("license", some(license.as_str())),
                        ("authority", some(authority.as_str())),
                        ("licensee", some(licensee.as_str())),
                        ("product", some(product.as_str())),
                        ("quantity", some(*quantity)),
                        ("valid_from", some(valid_from.as_str())),
                        ("valid_until", some(valid_until.as_str())),
                        ("round", round.map(Value::from)),
                    ],
                ),
                flags,
            ),
            EventCommand::Order { .. } => self.order_line(),
            EventCommand::Correct { refers_to, quantity, reason, approved_by, flags } => (
                object(
                    "shipment_corrected",
                    vec![
                        ("refers_to", some(*refers_to)),
                        ("quantity", some(*quantity)),
                        ("reason", some(reason.as_str())),
                        ("approved_by", some(approved_by.as_str())),
                    ],
                ),
                flags,
            ),
            EventCommand::Cap { authority, product, per_party, flags } => (
                object(
                    "cap_set",
                    vec![
                        ("authority", some(authority.as_str())),
                        ("product", some(product.as_str())),
                        ("per_party", some(*per_party)),
                    ],
                ),
                flags,
            ),
            other => other.reasoned_line(),
        }
    }

    fn order_line(&self) -> (Map<String, Value>, &EventFlags) {
        let EventCommand::Order { order, license, quantity, domestic_quantity, supplier, hold, flags } = self else {
            unreachable!("order_line is called on orders only")
        };
        let licenses = match license.as_slice() {
            [one] => ("license", some(one.as_str())),
            many => ("licenses", some(many.to_vec())),
        };
        let line = object(
            "order_placed",
            vec![
                ("order", some(order.as_str())),
                licenses,
                ("quantity", some(*quantity)),
                ("domestic_quantity", domestic_quantity.map(Value::from)),
                ("supplier", some(supplier.as_str())),
                ("hold", hold.then_some(Value::Bool(true))),
            ],
        );
        (line, flags)
    }

    /// The events of an id, a reason and nothing else.
    fn reasoned_line(&self) -> (Map<String, Value>, &EventFlags) {
        let (ty, id_field, id, reason, flags, extra) = match self {
            EventCommand::Restrict { party, reason, flags } => {
                ("party_restricted", "party", party, reason, flags, None)
            }
            EventCommand::Cancel { order, reason, flags } => ("order_cancelled", "order", order, reason, flags, None),
            EventCommand::Amend { license, quantity, reason, flags } => {
                ("quota_amended", "license", license, reason, flags, Some(("quantity", some(*quantity))))
            }
            EventCommand::Suspend { license, reason, flags } => {
                ("license_suspended", "license", license, reason, flags, None)
            }
            EventCommand::Reinstate { license, reason, flags } => {
                ("license_reinstated", "license", license, reason, flags, None)
            }
            EventCommand::Revoke { license, reason, flags } => {
                ("license_revoked", "license", license, reason, flags, None)
            }
            EventCommand::Exempt { policy, party, reason, flags } => {
                ("exemption_granted", "policy", policy, reason, flags, Some(("party", some(party.as_str()))))
            }
            EventCommand::Ship { order, quantity, flags } => {
                let line =
                    object("shipment_recorded", vec![("order", some(order.as_str())), ("quantity", some(*quantity))]);
                return (line, flags);
            }
            _ => unreachable!("every other command has its own line"),
        };
        let mut fields = vec![(id_field, some(id.as_str()))];
        fields.extend(extra);
        fields.push(("reason", some(reason.as_str())));
        (object(ty, fields), flags)
    }
}

impl EventFlags {
    /// Adds `at`, `actor`, `key` and `late_reason` to a line.
    pub fn stamp(&self, line: &mut Map<String, Value>) {
        let stamp = [("at", &self.at), ("actor", &self.actor), ("key", &self.key), ("late_reason", &self.late_reason)];
        for (k, v) in stamp {
            if let Some(v) = v {
                line.insert(k.into(), v.clone().into());
            }
        }
    }
}

/// The effect of a dry run, one line per fact: what it would change on every license it
/// touches (`CN-IMP-2026-0001 remaining 150,000 -> 110,000`).
pub fn dry_run_report(out: &mut dyn Write, run: &DryRun, json: bool) -> Result<()> {
    let effects = effects(run);
    if json {
        let facts: Vec<Value> = effects
            .iter()
            .map(|(seq, fact, changes)| {
                let changes: Vec<Value> = changes
                    .iter()
                    .map(|c| json!({ "license": c.license, "remaining_before": c.before, "remaining_after": c.after }))
                    .collect();
                json!({ "seq": seq, "event": fact.event, "context": fact.context, "effects": changes })
            })
            .collect();
        writeln!(out, "{}", json!({ "dry_run": true, "would_append": run.facts.len(), "facts": facts }))?;
        return Ok(());
    }
    for (seq, fact, changes) in &effects {
        let what: Vec<String> = changes.iter().map(Change::text).collect();
        let subject = fact.event.subject();
        let effect = if what.is_empty() { "no quota changes".to_string() } else { what.join(", ") };
        writeln!(out, "ok: seq {seq} {} {}: {effect}", fact.event.type_name(), escape(&subject))?;
    }
    let n = run.facts.len();
    writeln!(out, "dry run: {n} {} would be appended; nothing was written", if n == 1 { "event" } else { "events" })?;
    Ok(())
}

/// What one fact would do to one license's remaining (`None` before: it is granted).
struct Change {
    license: String,
    before: Option<u64>,
    after: u64,
}

impl Change {
    fn text(&self) -> String {
        let l = escape(&self.license);
        match self.before {
            None => format!("{l} granted: remaining {}", thousands(self.after)),
            Some(b) if b == self.after => format!("{l} remaining {}", thousands(b)),
            Some(b) => format!("{l} remaining {} -> {}", thousands(b), thousands(self.after)),
        }
    }
}

/// Each fact of a dry run with what it would change, applied in order from the state before.
fn effects(run: &DryRun) -> Vec<(u64, &crate::domain::Fact, Vec<Change>)> {
    let mut state = run.before.clone();
    let mut out = Vec::new();
    for (seq, fact) in &run.facts {
        let touched: Vec<String> = fact.licenses_touched().into_iter().map(str::to_string).collect();
        let before: Vec<Option<u64>> = touched.iter().map(|l| remaining(&state, l)).collect();
        state.apply(fact);
        let changes = touched
            .into_iter()
            .zip(before)
            .map(|(license, before)| {
                let after = remaining(&state, &license).unwrap_or(0);
                Change { license, before, after }
            })
            .collect();
        out.push((*seq, fact, changes));
    }
    out
}

fn remaining(state: &QuotaState, license: &str) -> Option<u64> {
    state.licenses.get(license).map(|l| l.remaining())
}
