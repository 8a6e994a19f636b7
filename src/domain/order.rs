//! The command side's view of one order: what the rules need to accept a cancellation, a
//! shipment or a correction. Kept in the store's order index, not in the quota projection, so
//! that the projection stays as small as the number of licenses (held orders excepted).

use super::event::{Context, Event, Fact, Gates};
use super::time::Timestamp;

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// May be shipped (until fully shipped) or cancelled.
    Open,
    /// Cancelled.
    Cancelled,
    /// Held: reserves its quantity until its licenses' pending conditions are settled.
    Held,
    /// Released when its conditions were settled: it failed a final rule.
    Released,
}

/// One order's running totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    /// The licenses the order draws on (the buyer's first).
    pub licenses: Gates,
    /// Units ordered.
    pub quantity: u64,
    /// Units shipped so far (`<= quantity`).
    pub shipped: u64,
    /// Where it stands.
    pub status: OrderStatus,
    /// When it was placed (effective time, rounded down to the second); `None` in rows an
    /// older version wrote.
    pub placed_at: Option<Timestamp>,
}

impl OrderRow {
    /// Units ordered and not yet shipped.
    pub fn unshipped(&self) -> u64 {
        self.quantity.saturating_sub(self.shipped)
    }

    /// Open: neither cancelled, held, released nor fully shipped.
    pub fn is_open(&self) -> bool {
        self.status == OrderStatus::Open && self.shipped < self.quantity
    }

    /// Whether it was cancelled.
    pub fn cancelled(&self) -> bool {
        self.status == OrderStatus::Cancelled
    }

    /// The row of the order an accepted fact names directly, given its row `before`: placed
    /// (a new row, open or held), shipped, corrected or cancelled. `None` for other facts
    /// (a finalization's held orders are updated through [`OrderRow::resolved`]).
    pub fn after(fact: &Fact, before: Option<OrderRow>) -> Option<(&str, OrderRow)> {
        let context = &fact.context;
        match (&fact.event, before) {
            (Event::OrderPlaced { order, licenses, quantity, .. }, _) => {
                let status = if *context == Context::Held { OrderStatus::Held } else { OrderStatus::Open };
                let placed_at = Some(Timestamp { nanos: 0, ..fact.stamp.at });
                let row = OrderRow { licenses: licenses.clone(), quantity: *quantity, shipped: 0, status, placed_at };
                Some((order, row))
            }
            (Event::OrderCancelled { order, .. }, Some(row)) => {
                Some((order, OrderRow { status: OrderStatus::Cancelled, ..row }))
            }
            (Event::ShipmentRecorded { order, quantity }, Some(row)) => {
                Some((order, OrderRow { shipped: row.shipped.saturating_add(*quantity), ..row }))
            }
            (Event::ShipmentCorrected { quantity, .. }, Some(row)) => match context {
                Context::Correction { order, previous, .. } => {
                    let shipped = row.shipped.saturating_sub(*previous).saturating_add(*quantity);
                    Some((order, OrderRow { shipped, ..row }))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The row of a held order after a finalization opened (`opened`) or released it.
    pub fn resolved(self, opened: bool) -> OrderRow {
        OrderRow { status: if opened { OrderStatus::Open } else { OrderStatus::Released }, ..self }
    }
}
