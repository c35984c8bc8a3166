//! This process's identity among the daemons sharing a database
//! ("host:pid:random"), and whether another one is known to be dead, so
//! that what a crashed daemon held (the fetch lease, outbox claims) is
//! taken back at once on the same machine instead of after a timeout.

use std::sync::OnceLock;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// This process's id.
pub fn id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut b = [0u8; 4];
        let _ = getrandom::getrandom(&mut b);
        let tag = crate::hex::hex(&b);
        format!("{}:{}:{tag}", hostname(), std::process::id())
    })
}

/// Whether the instance `other` ran on this machine and its process is
/// gone. Instances of other machines are never judged dead here: their
/// leases and claims expire by themselves.
pub fn is_dead(other: &str) -> bool {
    if other == id() {
        return false;
    }
    let mut parts = other.rsplitn(3, ':');
    let (Some(_tag), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    host == hostname() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_living_and_the_dead() {
        assert!(!is_dead(id()));
        let host = hostname();
        // PIDs are below 2^22 on Linux.
        assert!(is_dead(&format!("{host}:99999999:abcd")));
        assert!(!is_dead("another-host:99999999:abcd"));
        assert!(!is_dead(&format!("{host}:1:abcd")));
        assert!(!is_dead("garbage"));
    }
}
