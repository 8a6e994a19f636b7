//! "Did you mean ...?": the nearest of some known names to a name that was not found (an event
//! type, a field, a license, party or order id), by edit distance (`strsim`).

/// The candidate nearest to `input`, if it is near enough to be a likely typo: at most a third
/// of the longer name's length away (and at least one edit allowed), by Damerau-Levenshtein
/// distance (a swap of two neighbours counts once). Ties go to the first candidate.
pub fn nearest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        if c == input {
            continue;
        }
        let d = strsim::damerau_levenshtein(input, c);
        let allowed = (input.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= allowed && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `" (did you mean `x`?)"` for the nearest candidate, or nothing.
pub fn hint<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match nearest(input, candidates) {
        Some(c) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn typos_find_their_name_and_strangers_find_none() {
        let types = ["order_placed", "order_cancelled", "shipment_recorded"];
        assert_eq!(nearest("order_place", types), Some("order_placed"));
        assert_eq!(nearest("order_cancelld", types), Some("order_cancelled"));
        assert_eq!(nearest("CN-IMP-2026-001", ["CN-IMP-2026-0001", "CN-IMP-2026-0002"]), Some("CN-IMP-2026-0001"));
        assert_eq!(nearest("bytdance", ["bytedance", "alibaba"]), Some("bytedance"));
        assert_eq!(nearest("xyz", types), None);
        assert_eq!(nearest("", types), None);
    }
}
