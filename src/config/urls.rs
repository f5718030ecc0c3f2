//! The URLs of the configuration (`ligdicash.base_url`, webhooks): which transports are
//! allowed, and how a URL is shown without the parts that may carry a secret.

use reqwest::Url;
use std::net::IpAddr;

/// The URL as logs, errors, `check-config` and the database may show it: without user
/// name, password, query or fragment, where an access key often hides. `?…` marks that
/// something was left out; an unparsable URL is shown as `<invalid URL>`.
pub fn shown_url(text: &str) -> String {
    match without_secrets(text) {
        Some((url, true)) => format!("{url}?…"),
        Some((url, false)) => url.to_string(),
        None => "<invalid URL>".to_owned(),
    }
}

/// As [`shown_url`], but the text exactly as written when it hides nothing (no trailing
/// slash added), for echoing a configuration back to the person who wrote it.
pub fn shown_as_written(text: &str) -> String {
    match without_secrets(text) {
        Some((_, false)) => text.to_owned(),
        _ => shown_url(text),
    }
}

/// The parsed URL stripped of what may carry a secret, and whether anything was stripped.
fn without_secrets(text: &str) -> Option<(Url, bool)> {
    let mut url = Url::parse(text).ok()?;
    let hidden = url.password().is_some()
        || !url.username().is_empty()
        || url.query().is_some()
        || url.fragment().is_some();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    Some((url, hidden))
}

/// The transport rule for a URL we send secrets or payment data to: https, or plain http
/// to a loopback host (where it cannot leave the machine). Any other scheme (`ftp:`,
/// `file:`...) is refused whatever the host. `Err` is the reason, to follow the key's name.
pub fn check_transport(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("must use https (plain http is allowed only to a loopback host)".into()),
        other => Err(format!(
            "has scheme {other:?}: only https (or http to a loopback host) is supported"
        )),
    }
}

/// Plain http is tolerated only where it cannot leave the machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_what_may_hide_a_secret() {
        let text = "https://shop:pw-7@crm.example:8443/hooks/ligdi?key=k-9#f";
        assert_eq!(shown_url(text), "https://crm.example:8443/hooks/ligdi?…");
        assert_eq!(shown_as_written(text), shown_url(text));
        assert_eq!(
            shown_as_written("https://app.ligdicash.com"),
            "https://app.ligdicash.com"
        );
        assert_eq!(
            shown_url("https://app.ligdicash.com"),
            "https://app.ligdicash.com/"
        );
        assert_eq!(shown_as_written("not a url key=k-9"), "<invalid URL>");
    }

    #[test]
    fn only_https_or_loopback_http_is_a_transport() {
        for (url, ok) in [
            ("https://app.ligdicash.com", true),
            ("http://127.0.0.1:8080", true),
            ("http://app.ligdicash.com", false),
            ("ftp://app.ligdicash.com", false),
            ("ftp://127.0.0.1:2121", false),
            ("file:///etc/passwd", false),
        ] {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(check_transport(&parsed).is_ok(), ok, "{url}");
        }
    }
}
