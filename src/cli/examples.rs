//! The overview and the Examples sections of `--help`.
//!
//! Each example is `  $ COMMAND` (run by `sh`) followed by what it prints, stdout and stderr
//! together (`  ...` stands for any lines left out). `tests/help_examples.rs` runs every one, in
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
  seq 30 records 31 hash d93580e7c4ef1b6d6364bfd840071b00b8d04eb132d5eab47154d2df4b2ac967
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
  rebuilt the index and the snapshots of ./ledger from 31 records";

/// `append --help` (after the list of event types).
pub const APPEND: &str = r#"Examples:
  $ echo '{"type":"shipment_recorded","at":"2026-04-02T08:00:00Z","order":"O-BD-1","quantity":10000}' | qledger append
  appended 1 event (0 skipped); head seq 31 hash 48b410782744f929505d3246fa255a92a4eddd70008d13d0222145ea684ebbb2
  $ echo '{"type":"order_place"}' | qledger append
  qledger: line 1: field `type`: unknown event type "order_place" (did you mean `order_placed`?)
  $ echo '{"type":"party_registered","at":"2026-01-14T02:00:00Z","party":"acme","name":"Acme","country":"CN","state_backed":false,"sector":"retail"}' | qledger --ledger ./fresh append --create --actor registrar
  appended 1 event (0 skipped); head seq 0 hash 7d97cb3311d012d117a7fa46a59b66917e103f9fef4d8224fa84bf6c1b6673c1"#;

/// `verify --help`.
pub const VERIFY: &str = "\
Examples:
  $ qledger verify --expect-head d93580e7
  ok: 31 records in 1 block verified, every record within the rules, 15 index entries match a rebuild, 1 snapshot matches a fresh replay, the Merkle tree of 31 records and 0 signed checkpoints match the records; head hash d93580e7c4ef1b6d6364bfd840071b00b8d04eb132d5eab47154d2df4b2ac967; the expected head is seq 30
  $ qledger verify --chain-only
  ok: 31 records in 1 block verified, 1 snapshot matches a fresh replay; head hash d93580e7c4ef1b6d6364bfd840071b00b8d04eb132d5eab47154d2df4b2ac967";

/// `state --help`.
pub const STATE: &str = "\
Examples:
  $ qledger state --as-of 2026-02-05 --party bytedance
  quota state as of seq 20 (2026-02-04T06:00:00Z)

  LICENSE           LICENSEE   STATUS  ROUND  QUANTITY  ORDERED  SHIPPED  REMAINING  VALID
  CN-IMP-2026-0001  bytedance  active      1   150,000   65,000        0     85,000  2026-01-20 .. 2027-01-19
  ...
  TOTAL      LICENSED  ORDERED  SHIPPED  REMAINING
  1 license   150,000   65,000        0     85,000
  $ qledger state --csv --license CN-IMP-2026-0002
  section,id,licensee,status,round,quantity,ordered,shipped,remaining,valid_from,valid_until
  license,CN-IMP-2026-0002,alibaba,active,1,140000,30000,30000,110000,2026-01-20,2027-01-19
  party,alibaba,,,,140000,30000,30000,110000,,
  total,,,,,140000,30000,30000,110000,,
  $ qledger state --party bytdance
  qledger: --party: no party bytdance in the state (did you mean `bytedance`?)";

/// `log --help`.
pub const LOG: &str = "\
Examples:
  $ qledger log --license CN-IMP-2026-0001 -n 3
  SEQ  AT                    TYPE             SUBJECT           HASH
    6  2026-01-20T01:00:00Z  license_granted  CN-IMP-2026-0001  8ac150b5f385c51b
    9  2026-01-20T01:10:00Z  condition_added  CN-IMP-2026-0001  c81500fd5a4903af
   10  2026-01-20T01:11:00Z  condition_added  CN-IMP-2026-0001  42e7b1778a814cec
  $ qledger log --reverse -n 2
  SEQ  AT                    TYPE             SUBJECT           HASH
   30  2026-04-01T01:10:00Z  condition_added  CN-IMP-2026-0004  d93580e7c4ef1b6d
   29  2026-04-01T01:00:00Z  license_granted  CN-IMP-2026-0004  7d3ab4e51f3b2b03
  $ qledger log --order O-BD-1 --csv
  seq,at,actor,key,type,subject,license,hash
  18,2026-02-03T06:00:00Z,buyer@bytedance,po-bd-0001,order_placed,O-BD-1,CN-IMP-2026-0001,4a0e135f3239775caf731273f5e8159a9593ea7202e6baf0e514c7f5a2c99485
  21,2026-02-20T09:00:00Z,officer@customs,ship-bd-1-a,shipment_recorded,O-BD-1,CN-IMP-2026-0001,3f16d9b1dbd5bc379f2ee03fbd4193739d16e4a895df9ac3997e2e7ccd479293
  $ qledger log --order O-BD-9
  qledger: --order: no order O-BD-9 in the ledger (did you mean `O-BD-1`?)";

/// `replay --help`.
pub const REPLAY: &str = "\
Examples:
  $ qledger replay --license CN-IMP-2026-0001 --from 18 --to 2026-02-28
  SEQ  AT                    TYPE               SUBJECT  EFFECT
   18  2026-02-03T06:00:00Z  order_placed       O-BD-1   CN-IMP-2026-0001 remaining 150,000 -> 110,000
   20  2026-02-04T06:00:00Z  order_placed       O-BD-2   CN-IMP-2026-0001 remaining 110,000 -> 85,000
   21  2026-02-20T09:00:00Z  shipment_recorded  O-BD-1   CN-IMP-2026-0001 shipped 0 -> 20,000
   23  2026-02-25T05:00:00Z  order_cancelled    O-BD-2   CN-IMP-2026-0001 remaining 85,000 -> 110,000
  $ qledger replay --license NOPE
  qledger: --license: no license NOPE in the ledger";

/// `head --help`.
pub const HEAD: &str = "\
Examples:
  $ qledger head
  seq 30 records 31 hash d93580e7c4ef1b6d6364bfd840071b00b8d04eb132d5eab47154d2df4b2ac967
  $ qledger head --json
  {\"hash\":\"d93580e7c4ef1b6d6364bfd840071b00b8d04eb132d5eab47154d2df4b2ac967\",\"records\":31,\"seq\":30}";

/// `export --help`.
pub const EXPORT: &str = "\
Examples:
  $ qledger export --out records.jsonl
  $ wc -l < records.jsonl
  31";

/// `demo --help`.
pub const DEMO: &str = "\
Examples:
  $ qledger demo --ledger ./story
  == 1. append the H200 story (examples/h200.jsonl) into ./story
  appended 31 events (0 skipped); head seq 30 hash d93580e7c4ef1b6d6364bfd840071b00b8d04eb132d5eab47154d2df4b2ac967
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
  31
  X/2NNgsrKnGgjggZiq2KasSm/0Fjrxs06WiRVLMz4QU=
  qledger-head d93580e7c4ef1b6d6364bfd840071b00b8d04eb132d5eab47154d2df4b2ac967
  ...";

/// `prove --help` and `check-proof --help`.
pub const PROVE: &str = "\
Examples:
  $ qledger keygen --name example.org/ledger --out signer.key > verifier.txt
  $ qledger checkpoint --key signer.key > /dev/null
  $ qledger prove --seq 18 > proof.json
  $ qledger check-proof proof.json --key verifier.txt
  ok: record 18 is in the tree of size 31 signed by example.org/ledger
  seq 18  2026-02-03T06:00:00Z  order_placed  O-BD-1  hash 4a0e135f3239775caf731273f5e8159a9593ea7202e6baf0e514c7f5a2c99485";

/// `bundle --help` and `check-bundle --help`.
pub const BUNDLE: &str = "\
Examples:
  $ qledger keygen --name example.org/ledger --out signer.key > verifier.txt
  $ qledger checkpoint --key signer.key > /dev/null
  $ qledger bundle --license CN-IMP-2026-0001 --out bundle.json
  wrote 8 records of CN-IMP-2026-0001 with proofs against size 31
  $ qledger check-bundle bundle.json --key verifier.txt
  ok: 8 records of license CN-IMP-2026-0001 in the tree of size 31 signed by example.org/ledger; they account for its state
  ...";

/// `publish --help` and `audit --help`.
pub const PUBLISH: &str = "\
Examples:
  $ qledger keygen --name example.org/ledger --out signer.key > verifier.txt
  $ qledger checkpoint --key signer.key > /dev/null
  $ qledger publish site
  published size 31 (was 0): 1 hash tiles, 1 entry bundles written to site
  $ qledger audit site --key verifier.txt
  audit ok: example.org/ledger size 31 root X/2NNgsrKnGgjggZiq2KasSm/0Fjrxs06WiRVLMz4QU= (first audit of this log)";
