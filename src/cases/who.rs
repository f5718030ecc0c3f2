//! Who a decision made on the command line is recorded as: `cli:<Unix user>`, the user the
//! process runs as (from the kernel, not from `$USER`, which anyone may set), with the
//! user who ran `sudo` when there is one.

/// `cli:<user>`, or `cli:<user> (sudo by <user>)`.
pub fn cli_user() -> String {
    let name = process_user().unwrap_or_else(|| "unknown".to_owned());
    match std::env::var("SUDO_USER") {
        Ok(by) if !by.is_empty() && by != name => format!("cli:{name} (sudo by {by})"),
        _ => format!("cli:{name}"),
    }
}

/// The name of the real user id this process runs as: `/proc/self/status` gives the id,
/// `/etc/passwd` its name; the id itself when the name is unknown (a container without
/// that user); `$USER` where there is no `/proc` (not Linux).
fn process_user() -> Option<String> {
    let Some(uid) = real_uid() else {
        return std::env::var("USER").ok().filter(|u| !u.is_empty());
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Some(name_of(&passwd, uid).unwrap_or_else(|| format!("uid {uid}")))
}

/// The real user id, from the `Uid:` line of `/proc/self/status`.
fn real_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The name of `uid` in a `/etc/passwd` text.
fn name_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uid_is_named_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nawa:x:1000:1000::/home/awa:/bin/sh\n";
        assert_eq!(name_of(passwd, 1000).as_deref(), Some("awa"));
        assert_eq!(name_of(passwd, 0).as_deref(), Some("root"));
        assert_eq!(name_of(passwd, 5), None);
        assert!(cli_user().starts_with("cli:"));
    }
}
