//! Integration tests: the real binary against a real Dovecot, a real SMTP
//! sink and a real database. Every story runs on SQLite and PostgreSQL.

// Test helpers are `pub` for the test modules, not for other crates.
#![allow(unreachable_pub)]

mod app;
mod core_loop;
mod desk;
mod digest;
mod handover;
mod knowledge;
mod lifecycle;
mod monitoring;
mod oauth;
mod outages;
mod realworld;
mod report;
mod resilience;
mod security;
mod supervision;
mod transport;

/// Declares a test for each database backend.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name($crate::app::Db::Sqlite)
                }
                #[test]
                fn postgres() {
                    super::$name($crate::app::Db::Postgres)
                }
            }
        )+
    };
}
