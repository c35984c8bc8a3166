//! guichet: an email-driven helpdesk. See `main.rs` for the architecture.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod hex;
pub mod imap;
pub mod inbound;
pub mod instance;
pub mod oauth;
pub mod outbound;
pub mod report;
pub mod store;
pub mod ticket;
