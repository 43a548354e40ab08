//! Tests of the web function through its handler: the page and its assets as a browser
//! gets them, and its sample events.

mod events;
mod page;
