//! The overview and the Examples sections of `--help`.
//!
//! Each example is `  $ COMMAND` (run by `sh`) followed by what it prints, stdout and stderr
//! together (`  ...` stands for any lines left out, a line ending in ` ...` for the rest of that
//! line: the hash of a record appended now depends on the clock it was appended at). `tests/help_examples.rs` runs every one, in
//! order, in a fresh directory holding the demo's ledger at `./ledger`, with
//! `QLEDGER_ACTOR=clerk`, and checks that it prints what is shown.

/// `qledger` alone.
pub const OVERVIEW: &str = "\
qledger: an append-only, hash-chained audit ledger for licensed quotas

Start here:
  qledger demo                          the H200 story in a fresh ledger, verified and replayed
  qledger --ledger ./ledger init        create a ledger (commands below default to ./ledger)
  qledger append events.jsonl           append JSON Lines events, all or nothing
  qledger state                         quota state: licenses, conditions, parties, totals
  qledger log -n 20 --reverse           the newest records
  qledger replay --license L            history with each event's effect
  qledger verify                        recompute every hash, link and rule

More: `qledger help`, `qledger COMMAND --help` (each with examples), `qledger man`,
`qledger completions bash|zsh|fish|powershell`.
";

/// `qledger --help`.
pub const TOP: &str = "\
Examples:
  $ qledger --ledger ./new init
  ledger at ./new holds 0 records; future margin 86400 s
  $ qledger head
  seq 47 records 48 hash db9daf4f86aac9f075abed480b13831471f85867c20b32003feeca17c4ef5a96
  $ qledger --ledger ./ledgr log
  qledger: ./ledgr is not a quotaledger ledger: it does not exist (create one with `qledger init --ledger ./ledgr`)";

/// `init --help`.
pub const INIT: &str = "\
Examples:
  $ qledger --ledger ./new init
  ledger at ./new holds 0 records; future margin 86400 s
  $ qledger --ledger ./strict init --future-margin 3600
  ledger at ./strict holds 0 records; future margin 3600 s";

/// `reindex --help`.
pub const REINDEX: &str = "\
Examples:
  $ qledger reindex
  rebuilt the index and the snapshots of ./ledger from 48 records";

/// `append --help` (after the list of event types).
pub const APPEND: &str = r#"Examples:
  $ echo '{"type":"shipment_recorded","at":"2026-04-06T08:00:00Z","order":"O-BD-1","quantity":10000}' | qledger append
  appended 1 event (0 skipped); head seq 48 hash ...
  $ echo '{"type":"order_place"}' | qledger append
  qledger: line 1: field `type`: unknown event type "order_place" (did you mean `order_placed`?)
  $ echo '{"type":"party_registered","at":"2026-01-14T02:00:00Z","party":"acme","name":"Acme","country":"CN","state_backed":false,"sector":"retail"}' | qledger --ledger ./fresh append --create --actor registrar
  appended 1 event (0 skipped); head seq 0 hash ..."#;

/// `verify --help`.
pub const VERIFY: &str = "\
Examples:
  $ qledger verify --expect-head db9daf4f
  ok: 48 records in 1 block verified, every record within the rules, 23 index entries match a rebuild, 1 snapshot matches a fresh replay, the Merkle tree of 48 records and 0 signed checkpoints match the records; head hash db9daf4f86aac9f075abed480b13831471f85867c20b32003feeca17c4ef5a96; the expected head is seq 47
  $ qledger verify --chain-only
  ok: 48 records in 1 block verified, 1 snapshot matches a fresh replay; head hash db9daf4f86aac9f075abed480b13831471f85867c20b32003feeca17c4ef5a96";

/// `state --help`.
pub const STATE: &str = "\
Examples:
  $ qledger state --as-of 2026-02-05 --party bytedance
  quota state of the records up to seq 47 dated at or before 2026-02-04T06:00:00Z (18 records dated later left out)

  LICENSE           LICENSEE   STATUS  ROUND  QUANTITY  ORDERED  SHIPPED  REMAINING  VALID
  CN-IMP-2026-0001  bytedance  active      1   150,000   65,000        0     85,000  2026-01-20 .. 2027-01-19
  ...
  HEADROOM OF  PRODUCT  CAN ORDER
  bytedance    H200        55,000
  ...
  $ qledger state --csv --license CN-IMP-2026-0002
  section,id,licensee,status,round,quantity,ordered,shipped,remaining,valid_from,valid_until
  license,CN-IMP-2026-0002,alibaba,active,1,120000,30000,29000,90000,2026-01-20,2027-01-19
  party,alibaba,,,,120000,30000,29000,90000,,
  total,,,,,120000,30000,29000,90000,,
  $ qledger state --party bytdance
  qledger: --party: no party bytdance in the state (did you mean `bytedance`?)";

/// `log --help`.
pub const LOG: &str = "\
Examples:
  $ qledger log --license CN-IMP-2026-0001 -n 3
  SEQ  AT                    TYPE             SUBJECT           HASH
   13  2026-01-20T01:00:00Z  license_granted  CN-IMP-2026-0001  2ca2134e395658b5
   17  2026-01-20T01:10:00Z  condition_added  CN-IMP-2026-0001  6c49aaefa17a0fc7
   18  2026-01-20T01:11:00Z  condition_added  CN-IMP-2026-0001  3400e39d97c8df52
  $ qledger log --reverse -n 2
  SEQ  AT                    TYPE                 SUBJECT           HASH
   47  2026-04-03T03:00:00Z  condition_finalized  CN-IMP-2026-0004  db9daf4f86aac9f0
   46  2026-04-02T07:00:00Z  order_placed         O-BA-2            55bd2c793a1f10fa
  $ qledger log --order O-BD-1 --csv
  seq,at,actor,key,type,subject,license,hash
  27,2026-02-03T06:00:00Z,buyer@bytedance,po-bd-0001,order_placed,O-BD-1,CN-IMP-2026-0001,b04da5fb8573adb28e4f96bb4dfc0b490fdc136288a701ab2a5bfde55b480bcd
  30,2026-02-20T09:00:00Z,officer@customs,ship-bd-1-a,shipment_recorded,O-BD-1,CN-IMP-2026-0001,27646a254249ca7fdc0ef42e92c72467cdedfb76682b09d1f878919b7d5549c9
  40,2026-03-01T10:00:00Z,officer@customs,ship-bd-1-b,shipment_recorded,O-BD-1,CN-IMP-2026-0001,2c52abe3f23dbc8d5f5894bbb59d345b631755ed3cb2e461687a79fc515ecb04
  $ qledger log --order O-BD-9
  qledger: --order: no order O-BD-9 in the ledger (did you mean `O-BD-1`?)";

/// `replay --help`.
pub const REPLAY: &str = "\
Examples:
  $ qledger replay --license CN-IMP-2026-0001 --from 27 --to 2026-02-28
  SEQ  AT                    TYPE               SUBJECT  EFFECT
   27  2026-02-03T06:00:00Z  order_placed       O-BD-1   CN-IMP-2026-0001 remaining 150,000 -> 110,000 | US-BIS-D000001 remaining 150,000 -> 110,000
   29  2026-02-04T06:00:00Z  order_placed       O-BD-2   CN-IMP-2026-0001 remaining 110,000 -> 85,000 | US-BIS-D000001 remaining 80,000 -> 55,000
   30  2026-02-20T09:00:00Z  shipment_recorded  O-BD-1   CN-IMP-2026-0001 shipped 0 -> 20,000 | US-BIS-D000001 remaining 55,000
   32  2026-02-25T05:00:00Z  order_cancelled    O-BD-2   CN-IMP-2026-0001 remaining 85,000 -> 110,000 | US-BIS-D000001 remaining 55,000 -> 80,000
  $ qledger replay --license NOPE
  qledger: --license: no license NOPE in the ledger";

/// `head --help`.
pub const HEAD: &str = "\
Examples:
  $ qledger head
  seq 47 records 48 hash db9daf4f86aac9f075abed480b13831471f85867c20b32003feeca17c4ef5a96
  $ qledger head --json
  {\"hash\":\"db9daf4f86aac9f075abed480b13831471f85867c20b32003feeca17c4ef5a96\",\"records\":48,\"seq\":47}";

/// `export --help`.
pub const EXPORT: &str = "\
Examples:
  $ qledger export --out records.jsonl
  $ wc -l < records.jsonl
  48";

/// `demo --help`.
pub const DEMO: &str = "\
Examples:
  $ qledger demo --ledger ./story
  == 1. append the H200 story (examples/h200.jsonl) into ./story
  appended 48 events (0 skipped); head seq 47 hash db9daf4f86aac9f075abed480b13831471f85867c20b32003feeca17c4ef5a96
  ...
  the ledger is kept at ./story; try: qledger --ledger ./story log";

/// `completions --help`.
pub const COMPLETIONS: &str = "\
Examples:
  $ qledger completions bash > qledger.bash
  $ qledger completions zsh | head -1
  #compdef qledger";

/// `man --help`.
pub const MAN: &str = "\
Examples:
  $ qledger man > qledger.1
  $ grep -m1 '^.SH' qledger.1
  .SH NAME";

/// `keygen --help`.
pub const KEYGEN: &str = "\
Examples:
  $ qledger keygen --name example.org/ledger --out signer.key > verifier.txt
  $ grep -c '^example.org/ledger+' verifier.txt
  1";

/// `checkpoint --help`.
pub const CHECKPOINT: &str = "\
Examples:
  $ qledger keygen --name example.org/ledger --out signer.key > verifier.txt
  $ qledger checkpoint --key signer.key
  example.org/ledger
  48
  cSKYM0cKoPaICxTmspmTZeVwvTXewtup5hqXQhV8GDQ=
  qledger-head db9daf4f86aac9f075abed480b13831471f85867c20b32003feeca17c4ef5a96
  ...";

/// `prove --help` and `check-proof --help`.
pub const PROVE: &str = "\
Examples:
  $ qledger keygen --name example.org/ledger --out signer.key > verifier.txt
  $ qledger checkpoint --key signer.key > /dev/null
  $ qledger prove --seq 18 > proof.json
  $ qledger check-proof proof.json --key verifier.txt
  ok: record 18 is in the tree of size 48 signed by example.org/ledger
  seq 18  2026-01-20T01:11:00Z  condition_added  CN-IMP-2026-0001  hash 3400e39d97c8df52ef72cc025a74622fa24d23a78c8e9537396950b6b59940d4";

/// `bundle --help` and `check-bundle --help`.
pub const BUNDLE: &str = "\
Examples:
  $ qledger keygen --name example.org/ledger --out signer.key > verifier.txt
  $ qledger checkpoint --key signer.key > /dev/null
  $ qledger bundle --license CN-IMP-2026-0001 --out bundle.json
  wrote 10 records of CN-IMP-2026-0001 with proofs against size 48
  $ qledger check-bundle bundle.json --key verifier.txt
  ok: 10 records of license CN-IMP-2026-0001 in the tree of size 48 signed by example.org/ledger; they account for its state
  ...";

/// The examples `publish --help` and `audit --help` share: publish a log, audit it.
macro_rules! publish_examples {
    () => {
        "\
Examples:
  $ qledger keygen --name example.org/ledger --out signer.key > verifier.txt
  $ qledger checkpoint --key signer.key > /dev/null
  $ qledger publish site
  published size 48 (was 0): 1 hash tiles, 1 entry bundles written to site
  $ qledger audit site --key verifier.txt
  audit ok: example.org/ledger size 48 root cSKYM0cKoPaICxTmspmTZeVwvTXewtup5hqXQhV8GDQ= (first audit of this log)"
    };
}

/// `publish --help`.
pub const PUBLISH: &str = publish_examples!();

/// `audit --help`: also `--ca-file`, which trusts your own CA for an https log only.
pub const AUDIT: &str = concat!(
    publish_examples!(),
    "
  $ qledger audit http://log.example.org/ledger --key verifier.txt --ca-file corp-ca.pem
  qledger: --ca-file is for an https:// SOURCE, not http://"
);

// --- typed commands (one per event type); each runs with --dry-run, so none changes the ledger.

/// `register --help`.
pub const REGISTER: &str = "\
Examples:
  $ qledger register --party acme --name \"Acme Ltd.\" --country CN --state-backed false --sector retail --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 party_registered acme: no quota changes
  dry run: 1 event would be appended; nothing was written";

/// `restrict --help`.
pub const RESTRICT: &str = "\
Examples:
  $ qledger restrict --party tencent --reason \"export violation\" --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 party_restricted tencent: no quota changes
  dry run: 1 event would be appended; nothing was written";

/// `grant --help`.
pub const GRANT: &str = "\
Examples:
  $ qledger grant --license CN-IMP-2026-0007 --authority CN-MOFCOM --licensee alibaba --product H200 --quantity 30000 --valid-from 2026-04-06 --valid-until 2027-04-05 --round 2 --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 license_granted CN-IMP-2026-0007: CN-IMP-2026-0007 granted: remaining 30,000
  dry run: 1 event would be appended; nothing was written
  $ qledger grant --license CN-IMP-2026-0008 --authority CN-MOFCOM --licensee alibaba --product H200 --quantity 40000 --valid-from 2026-04-06 --valid-until 2027-04-05 --round 2 --at 2026-04-06T00:00:00Z --dry-run
  qledger: line 1: license_granted CN-IMP-2026-0008: alibaba would hold 160000 units of H200 from CN-MOFCOM, over the per-party cap 150000 (120000 held) [field quantity, rule exceeds_party_cap]";

/// `condition --help`: the same as its first subcommand's.
pub const CONDITION: &str = CONDITION_ADD;

/// `condition add --help`.
pub const CONDITION_ADD: &str = "\
Examples:
  $ qledger condition add --license CN-IMP-2026-0004 --condition C2 --rule max_shipments --count 12 --final --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 condition_added CN-IMP-2026-0004: CN-IMP-2026-0004 remaining 40,000
  dry run: 1 event would be appended; nothing was written";

/// `condition finalize --help`.
pub const CONDITION_FINALIZE: &str = "\
Examples:
  $ qledger condition finalize --license CN-IMP-2026-0004 --condition C1 --at 2026-04-06T00:00:00Z --dry-run
  qledger: line 1: condition_finalized CN-IMP-2026-0004: condition C1 on CN-IMP-2026-0004 is not pending [field condition, rule condition_not_pending]";

/// `condition withdraw --help`.
pub const CONDITION_WITHDRAW: &str = "\
Examples:
  $ qledger condition withdraw --license CN-IMP-2026-0001 --condition C2 --reason \"end use covered by contract\" --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 condition_withdrawn CN-IMP-2026-0001: CN-IMP-2026-0001 remaining 110,000
  dry run: 1 event would be appended; nothing was written";

/// `order --help`.
pub const ORDER: &str = "\
Examples:
  $ qledger order --order O-BD-3 --license CN-IMP-2026-0001 --license US-BIS-D000001 --quantity 6000 --domestic-quantity 2000 --supplier nvidia --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 order_placed O-BD-3: CN-IMP-2026-0001 remaining 110,000 -> 104,000, US-BIS-D000001 remaining 10,000 -> 4,000
  dry run: 1 event would be appended; nothing was written
  $ qledger order --order O-BD-3 --license CN-IMP-2026-0001 --license US-BIS-D000001 --quantity 20000 --domestic-quantity 7000 --supplier nvidia --at 2026-04-06T00:00:00Z --dry-run
  qledger: line 1: order_placed O-BD-3: quantity 20000 exceeds remaining 10000 on US-BIS-D000001 [field quantity, rule exceeds_remaining]";

/// `cancel --help`.
pub const CANCEL: &str = "\
Examples:
  $ qledger cancel --order O-TC-1 --reason \"buyer withdrew\" --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 order_cancelled O-TC-1: CN-IMP-2026-0003 remaining 60,000 -> 110,000, US-BIS-D000001 remaining 10,000 -> 60,000
  dry run: 1 event would be appended; nothing was written";

/// `ship --help`.
pub const SHIP: &str = "\
Examples:
  $ qledger ship --order O-TC-1 --quantity 10000 --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 shipment_recorded O-TC-1: CN-IMP-2026-0003 remaining 60,000, US-BIS-D000001 remaining 10,000
  dry run: 1 event would be appended; nothing was written";

/// `correct --help`.
pub const CORRECT: &str = "\
Examples:
  $ qledger correct --refers-to 30 --quantity 19000 --reason \"customs recount\" --approved-by supervisor@customs --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 shipment_corrected seq 30: CN-IMP-2026-0001 remaining 110,000, US-BIS-D000001 remaining 10,000
  dry run: 1 event would be appended; nothing was written
  $ qledger correct --refers-to 30 --quantity 19000 --reason \"customs recount\" --approved-by clerk --at 2026-04-06T00:00:00Z --dry-run
  qledger: line 1: shipment_corrected seq 30: approved_by clerk is the actor: a correction needs a second person [field approved_by, rule same_approver]";

/// `amend --help`.
pub const AMEND: &str = "\
Examples:
  $ qledger amend --license CN-IMP-2026-0004 --quantity 70000 --reason \"allocation raised\" --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 quota_amended CN-IMP-2026-0004: CN-IMP-2026-0004 remaining 40,000 -> 50,000
  dry run: 1 event would be appended; nothing was written";

/// `suspend --help`.
pub const SUSPEND: &str = "\
Examples:
  $ qledger suspend --license CN-IMP-2026-0003 --reason \"inspection\" --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 license_suspended CN-IMP-2026-0003: CN-IMP-2026-0003 remaining 60,000
  dry run: 1 event would be appended; nothing was written";

/// `reinstate --help`.
pub const REINSTATE: &str = "\
Examples:
  $ qledger reinstate --license CN-IMP-2026-0003 --reason \"inspection passed\" --at 2026-04-06T00:00:00Z --dry-run
  qledger: line 1: license_reinstated CN-IMP-2026-0003: cannot reinstate license CN-IMP-2026-0003: it is active [field license, rule invalid_transition]";

/// `revoke --help`.
pub const REVOKE: &str = "\
Examples:
  $ qledger revoke --license CN-IMP-2026-0003 --reason \"violation\" --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 license_revoked CN-IMP-2026-0003: CN-IMP-2026-0003 remaining 60,000 -> 0
  dry run: 1 event would be appended; nothing was written";

/// `round --help`: the same as its first subcommand's.
pub const ROUND: &str = ROUND_OPEN;

/// `round open --help`.
pub const ROUND_OPEN: &str = "\
Examples:
  $ qledger round open --authority CN-MOFCOM --round 3 --product H200 --ceiling 100000 --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 round_opened CN-MOFCOM/3: no quota changes
  dry run: 1 event would be appended; nothing was written";

/// `round close --help`.
pub const ROUND_CLOSE: &str = "\
Examples:
  $ qledger round close --authority CN-MOFCOM --round 2 --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 round_closed CN-MOFCOM/2: no quota changes
  dry run: 1 event would be appended; nothing was written";

/// `policy --help`: the same as its first subcommand's.
pub const POLICY: &str = POLICY_LIFT;

/// `policy set --help`.
pub const POLICY_SET: &str = "\
Examples:
  $ qledger policy set --policy P-DEF --authority CN-MOFCOM --product H200 --deny-sector defense --reason \"defense buyers kept out\" --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 policy_set P-DEF: no quota changes
  dry run: 1 event would be appended; nothing was written";

/// `policy lift --help`.
pub const POLICY_LIFT: &str = "\
Examples:
  $ qledger policy lift --policy P-SOE --reason \"rules final\" --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 policy_lifted P-SOE: no quota changes
  dry run: 1 event would be appended; nothing was written";

/// `exempt --help`.
pub const EXEMPT: &str = "\
Examples:
  $ qledger exempt --policy P-SOE --party china-telecom --reason \"case-by-case approval\" --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 exemption_granted P-SOE: no quota changes
  dry run: 1 event would be appended; nothing was written";

/// `cap --help`.
pub const CAP: &str = "\
Examples:
  $ qledger cap --authority CN-MOFCOM --product H200 --per-party 160000 --at 2026-04-06T00:00:00Z --dry-run
  ok: seq 48 cap_set CN-MOFCOM/H200: no quota changes
  dry run: 1 event would be appended; nothing was written
  $ qledger cap --authority CN-MOFCOM --product H200 --per-party 100000 --at 2026-04-06T00:00:00Z --dry-run
  qledger: line 1: cap_set CN-MOFCOM/H200: cap 100000 is below the 150000 units bytedance already holds of H200 from CN-MOFCOM [field per_party, rule cap_below_holdings]";

/// `report --help`.
pub const REPORT: &str = "\
Examples:
  $ qledger report --out report.html
  $ head -c 15 report.html; echo
  <!DOCTYPE html>";

/// `schema --help`.
pub const SCHEMA: &str = "\
Examples:
  $ qledger schema > event.schema.json
  $ grep -c '\"const\": \"order_placed\"' event.schema.json
  1";
