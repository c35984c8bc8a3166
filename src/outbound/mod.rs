//! Outgoing mail: templates rendered with tera, composed with lettre into
//! the exact bytes that are stored in the outbox and sent by the dispatcher.

pub mod compose;
pub mod dispatch;
pub mod overrides;
pub mod present;
pub mod relay;
pub mod render;

pub use compose::{compose, may_be_ours, new_message_id, Composed, Draft, File};
pub use render::{Rendered, Renderer};
