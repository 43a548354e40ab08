//! `make stress`: N checkouts in flight at once through the local stack, each sent as a
//! user sends it (retrying what the API asks to retry), then every table reconciled order
//! by order. The bench's pipeline reads its orders with the same accounting.
//!
//! What the accounting holds the stack to, for every order of the run:
//! - it is final: paid with its process Completed (a production, an invoice, one e-mail),
//!   or declined with no charge and one e-mail, or refused before any payment began;
//! - at most one successful payment kept (never refunded) per order;
//! - productions = invoices = paid orders; e-mails = decided payments, none twice;
//! - none of its messages in a dead-letter queue;
//! - no invocation started after its caller was answered (the gate's count of ghosts).

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

pub mod accounting;
pub mod burst;
pub mod env;
pub mod faults;
pub mod gate;
