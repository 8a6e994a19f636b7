//! The command side's view of one order: what the rules need to accept a cancellation or a
//! shipment. Kept in the store's order index, not in the quota projection, so that the
//! projection stays as small as the number of licenses.

use super::event::Event;

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

    /// The order an accepted `event` changes and its row afterwards, given its row `before`:
    /// placed (a new row), shipped (more shipped) or cancelled. `None` for other events.
    pub fn after(event: &Event, before: Option<OrderRow>) -> Option<(&str, OrderRow)> {
        match (event, before) {
            (Event::OrderPlaced { order, license, quantity, .. }, _) => {
                Some((order, OrderRow { license: license.clone(), quantity: *quantity, shipped: 0, cancelled: false }))
            }
            (Event::OrderCancelled { order, .. }, Some(row)) => Some((order, OrderRow { cancelled: true, ..row })),
            (Event::ShipmentRecorded { order, quantity }, Some(row)) => {
                Some((order, OrderRow { shipped: row.shipped.saturating_add(*quantity), ..row }))
            }
            _ => None,
        }
    }
}
