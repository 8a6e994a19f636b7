//! The command side's view of one order: what the rules need to accept a cancellation or a
//! shipment. Kept in the store's order index, not in the quota projection, so that the
//! projection stays as small as the number of licenses.

/// One order's running totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    /// The license the order was placed on.
    pub license: String,
    /// Units ordered.
    pub quantity: u64,
    /// Units shipped so far (`<= quantity`).
    pub shipped: u64,
    /// Whether the order was cancelled.
    pub cancelled: bool,
}

impl OrderRow {
    /// Units ordered and not yet shipped.
    pub fn unshipped(&self) -> u64 {
        self.quantity.saturating_sub(self.shipped)
    }

    /// Open: neither cancelled nor fully shipped.
    pub fn is_open(&self) -> bool {
        !self.cancelled && self.shipped < self.quantity
    }
}
