//! Tests of the listeners through their sample events.

mod events;
