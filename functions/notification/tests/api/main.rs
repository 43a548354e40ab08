//! Tests of the notification service: its sample events, and its e-mail log against the
//! emulator.

mod contract;
mod events;
