//! Admission: what an event must pass to be appended, beyond the rules (`rules::check`) that
//! `verify` re-checks every stored record against.
//!
//! These checks depend on what a record does not hold, or they hold input to more than older
//! versions did; so `verify` never re-runs them, and every record an older version accepted
//! still decodes, verifies and can be referred to:
//!
//! - the clock: an event's `at` lies at most a margin ahead of the appending process's clock
//!   (`at_in_future`), unless the call allows the future. The caller passes the clock in: the
//!   domain reads none.
//! - ids that an event introduces (a new party, license, condition or order, and any
//!   idempotency key) are printable ASCII without spaces (`invalid_id`); texts hold no Unicode
//!   format character (general category Cf: bidi controls, zero-width characters, the BOM) and
//!   no line or paragraph separator (`invalid_text`). References to existing ids are left to
//!   the rules, which need them to exist as written.
//! - a licensed total (a party's, everyone's) never exceeds u64 (`total_overflow`).
//! - a new party's id or name is not confusable with an existing party's: equal UTS #39
//!   skeletons (`confusable_party`), unless its input line says `"confusable_ok": true`. The
//!   flag is an exception granted at append time and is not recorded.
//!
//! One [`Admission`] serves one append call: it caches the skeletons of the registered parties
//! and the licensed total on first use, and keeps them in step with the events it admits, so
//! each check costs the same on a ledger of any size.

use super::event::{Context, Event, Stamp};
use super::quota::QuotaState;
use super::rules::{self, refuse, Field, Lookup, Reason, Refusal};
use super::time::Timestamp;
use std::collections::HashMap;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// What an input line says about itself besides its event. Never stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputFlags {
    /// `"confusable_ok": true`: this new party is meant to look like an existing one.
    pub confusable_ok: bool,
}

/// The admission checks of one append call; see the module documentation.
#[derive(Debug)]
pub struct Admission {
    now: Timestamp,
    future_margin_secs: u32,
    allow_future: bool,
    parties: Option<PartySkeletons>,
    licensed_total: Option<u128>,
}

/// Registered parties by the UTS #39 skeletons of their ids and names: skeleton -> party id.
#[derive(Debug, Default)]
struct PartySkeletons {
    ids: HashMap<String, String>,
    names: HashMap<String, String>,
}

impl Admission {
    /// Admission at clock `now`: an `at` more than `future_margin_secs` after it is refused,
    /// unless `allow_future`.
    pub fn new(now: Timestamp, future_margin_secs: u32, allow_future: bool) -> Admission {
        Admission { now, future_margin_secs, allow_future, parties: None, licensed_total: None }
    }

    /// Checks one event: its fields and time, then the rules against `state`, then what it
    /// would do to the totals and the parties. On success the caller must apply the event to
    /// `state` before checking the next one (the caches assume it).
    pub fn check(
        &mut self,
        state: &QuotaState,
        lookup: Lookup<'_>,
        stamp: &Stamp,
        event: &Event,
        flags: InputFlags,
    ) -> Result<Context, Refusal> {
        input_fields(stamp, event)?;
        rules::check_shape(event)?;
        self.not_in_future(stamp)?;
        let context = rules::check_against_state(state, lookup, stamp, event)?;
        self.within_totals(state, event)?;
        if !flags.confusable_ok {
            self.not_confusable(state, event)?;
        }
        self.admitted(state, event);
        Ok(context)
    }

    /// The clock this admission reads (the ledger's clock for `recorded_at`).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Whether `stamp` lies beyond the margin (accepted only with `--allow-future`, and then
    /// recorded as such).
    pub fn beyond_margin(&self, stamp: &Stamp) -> bool {
        let limit =
            Timestamp { secs: self.now.secs.saturating_add(i64::from(self.future_margin_secs)), nanos: self.now.nanos };
        stamp.at > limit
    }

    fn not_in_future(&self, stamp: &Stamp) -> Result<(), Refusal> {
        if self.allow_future || !self.beyond_margin(stamp) {
            return Ok(());
        }
        refuse(
            Reason::AtInFuture,
            "at",
            format!(
                "at {} is more than {} ahead of the clock ({}); if it is meant, append with --allow-future",
                stamp.at,
                margin_text(self.future_margin_secs),
                Timestamp { nanos: 0, ..self.now }
            ),
        )
    }

    fn within_totals(&mut self, state: &QuotaState, event: &Event) -> Result<(), Refusal> {
        let Some((licensee, before, after)) = quota_change(state, event) else {
            return Ok(());
        };
        let total = *self.licensed_total.get_or_insert_with(|| licensed_total(state, None));
        let new_total = total.saturating_sub(before) + after;
        if new_total <= u128::from(u64::MAX) {
            return Ok(());
        }
        let party_total = licensed_total(state, Some(licensee)).saturating_sub(before) + after;
        let whose = if party_total > u128::from(u64::MAX) {
            format!("party {licensee}'s licensed total would be {party_total}")
        } else {
            format!("the licensed total of all parties would be {new_total}")
        };
        refuse(Reason::TotalOverflow, "quantity", format!("{whose}, more than the largest total kept ({})", u64::MAX))
    }

    fn not_confusable(&mut self, state: &QuotaState, event: &Event) -> Result<(), Refusal> {
        let Event::PartyRegistered { party, name, .. } = event else {
            return Ok(());
        };
        let known = self.parties.get_or_insert_with(|| PartySkeletons::of(state));
        if let Some(other) = known.ids.get(&skeleton(party)) {
            return refuse(
                Reason::ConfusableParty,
                "party",
                format!("party id {party} looks like that of registered party {other}{CONFUSABLE_HINT}"),
            );
        }
        if let Some(other) = known.names.get(&skeleton(name)) {
            return refuse(
                Reason::ConfusableParty,
                "name",
                format!("name {name:?} looks like the name of registered party {other}{CONFUSABLE_HINT}"),
            );
        }
        Ok(())
    }

    /// Keeps the caches in step with `state` once the event is applied to it.
    fn admitted(&mut self, state: &QuotaState, event: &Event) {
        if let (Some(total), Some((_, before, after))) = (self.licensed_total.as_mut(), quota_change(state, event)) {
            *total = total.saturating_sub(before) + after;
        }
        if let (Some(known), Event::PartyRegistered { party, name, .. }) = (self.parties.as_mut(), event) {
            known.insert(party, name);
        }
    }
}

const CONFUSABLE_HINT: &str =
    " (Unicode UTS #39 skeletons are equal); if it is another party, say \"confusable_ok\": true";

impl PartySkeletons {
    fn of(state: &QuotaState) -> PartySkeletons {
        let mut known = PartySkeletons::default();
        for (id, p) in &state.parties {
            known.insert(id, &p.name);
        }
        known
    }

    fn insert(&mut self, id: &str, name: &str) {
        // The first party with a skeleton is the one named in refusals.
        self.ids.entry(skeleton(id)).or_insert_with(|| id.to_string());
        self.names.entry(skeleton(name)).or_insert_with(|| id.to_string());
    }
}

/// The UTS #39 skeleton: two strings that look alike have the same one.
pub fn skeleton(s: &str) -> String {
    unicode_security::skeleton(s).collect()
}

/// For a grant or an amendment: the licensee, and the license's quantity before and after.
fn quota_change<'s>(state: &'s QuotaState, event: &'s Event) -> Option<(&'s str, u128, u128)> {
    match event {
        Event::LicenseGranted { licensee, quantity, .. } => Some((licensee, 0, u128::from(*quantity))),
        Event::QuotaAmended { license, quantity, .. } => {
            let l = state.licenses.get(license)?;
            Some((&l.licensee, u128::from(l.quantity), u128::from(*quantity)))
        }
        _ => None,
    }
}

/// The sum of the quantities of every license, or of one licensee's.
fn licensed_total(state: &QuotaState, licensee: Option<&str>) -> u128 {
    state.licenses.values().filter(|l| licensee.is_none_or(|p| p == l.licensee)).map(|l| u128::from(l.quantity)).sum()
}

fn margin_text(secs: u32) -> String {
    match secs {
        86_400 => "1 day".to_string(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        1 => "1 second".to_string(),
        s => format!("{s} seconds"),
    }
}

/// The limits every stored record meets, and what input is held to beyond them.
pub fn input_fields(stamp: &Stamp, event: &Event) -> Result<(), Refusal> {
    rules::each_field(stamp, event, &mut |field| match field {
        Field::Id { name, value, introduced } => {
            rules::id(name, value)?;
            if introduced {
                printable_ascii(name, value)?;
            }
            Ok(())
        }
        Field::Text { name, value } => {
            rules::text(name, value)?;
            visible_text(name, value)
        }
    })
}

/// An id an event introduces: printable ASCII without the space (0x21..=0x7E).
pub fn printable_ascii(field: &'static str, value: &str) -> Result<(), Refusal> {
    if rules::bytes_within(value, b'!', b'~') {
        return Ok(());
    }
    match value.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
        None => Ok(()),
        Some((at, c)) => refuse(
            Reason::InvalidId,
            field,
            format!(
                "{field} must be printable ASCII without spaces (0x21..=0x7E); U+{:04X} at byte {at} is not",
                u32::from(c)
            ),
        ),
    }
}

/// A text: no Unicode format character (Cf) and no line or paragraph separator.
pub fn visible_text(field: &'static str, value: &str) -> Result<(), Refusal> {
    if value.is_ascii() {
        return Ok(()); // no format character or separator is ASCII
    }
    match value.char_indices().find(|(_, c)| is_invisible(*c)) {
        None => Ok(()),
        Some((at, c)) => refuse(
            Reason::InvalidText,
            field,
            format!(
                "{field} must not contain invisible formatting, bidirectional controls or line separators; \
                 U+{:04X} at byte {at} is one",
                u32::from(c)
            ),
        ),
    }
}

/// Format characters (Cf: bidi controls, zero-width characters, the BOM) and the line and
/// paragraph separators U+2028/U+2029: characters that change how text around them shows.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bidi_control_and_zero_width_character_is_invisible() {
        let bidi = ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}'];
        let more = ['\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{FEFF}', '\u{2028}', '\u{2029}'];
        for c in bidi.into_iter().chain(more) {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
        for c in ['a', 'é', '中', 'а', ' ', '\u{00A0}'] {
            assert!(!is_invisible(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn the_fast_paths_of_ids_and_texts_agree_with_the_character_checks() {
        let id_ok = |v: &str| !v.chars().any(|c| c.is_whitespace() || c.is_control());
        let text_ok = |v: &str| !v.chars().any(char::is_control);
        let graphic = |v: &str| v.chars().all(|c| c.is_ascii_graphic());
        let chars = (0u32..0x3000).filter_map(char::from_u32).chain(['\u{FEFF}', '\u{2028}', '\u{1F600}']);
        for c in chars {
            for v in [c.to_string(), format!("O-{c}1"), format!("{c}ab"), format!("a\u{e9}{c}")] {
                assert_eq!(rules::id("f", &v).is_ok(), id_ok(&v), "id {v:?}");
                assert_eq!(rules::text("f", &v).is_ok(), text_ok(&v), "text {v:?}");
                assert_eq!(printable_ascii("f", &v).is_ok(), graphic(&v), "printable {v:?}");
            }
        }
    }

    #[test]
    fn lookalikes_share_a_skeleton() {
        assert_eq!(skeleton("bytedance"), skeleton("bytedаnce")); // Cyrillic а
        assert_eq!(skeleton("ByteDance Ltd."), skeleton("ByteDаnce Ltd."));
        assert_ne!(skeleton("bytedance"), skeleton("alibaba"));
    }
}
