//! A route's share of a listener's connection slots, for a route anyone may call
//! (LigdiCash's callbacks): at most `most` of its requests at once, and at most
//! `per_source` from one source, so that neither a flood on that route nor one host can take
//! the slots the listener's other routes need.
//!
//! A [`Ticket`] is taken once the request head is read (the route is known) and given back
//! when the answer is ready. A request beyond either bound is refused at once, never queued:
//! waiting would hold the very slot the share protects.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Requests of one route being served, in all and by source.
#[derive(Debug)]
pub struct Share {
    most: usize,
    per_source: usize,
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// Why a request was refused its share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The route's share of the listener is taken.
    RouteFull,
    /// Its source already has `per_source` requests being served.
    SourceFull,
}

/// One request's place in a [`Share`], given back when dropped.
#[derive(Debug)]
pub struct Ticket {
    share: Arc<Share>,
    source: IpAddr,
}

impl Share {
    /// A share of at most `most` requests at once, `per_source` of them from one source
    /// (both at least 1).
    pub fn new(most: usize, per_source: usize) -> Arc<Self> {
        Arc::new(Self {
            most: most.max(1),
            per_source: per_source.max(1),
            held: Mutex::new(Held::default()),
        })
    }

    /// A place for a request from `from`, or why there is none now.
    pub fn try_take(self: &Arc<Self>, from: IpAddr) -> Result<Ticket, Refusal> {
        let source = source_of(from);
        let mut held = self.lock();
        let of_source = held.by_source.get(&source).copied().unwrap_or(0);
        if of_source >= self.per_source {
            return Err(Refusal::SourceFull);
        }
        if held.total >= self.most {
            return Err(Refusal::RouteFull);
        }
        held.total += 1;
        held.by_source.insert(source, of_source + 1);
        Ok(Ticket {
            share: self.clone(),
            source,
        })
    }

    /// Requests being served now.
    pub fn held(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        // The counts stay consistent whatever panicked while holding the lock: each change
        // is one statement.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut held = self.share.lock();
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.by_source.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.by_source.remove(&self.source);
            }
        }
    }
}

/// What one source is: an IPv4 address (also one mapped into IPv6, as a dual-stack listener
/// sees it), or an IPv6 address's /64 network, since one host is commonly given a whole /64
/// and could otherwise pose as millions of sources.
fn source_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(network.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_source_gets_at_most_its_own_bound_and_the_route_at_most_its_share() {
        let share = Share::new(4, 2);
        let a1 = share.try_take(ip("10.0.0.1")).unwrap();
        let _a2 = share.try_take(ip("10.0.0.1")).unwrap();
        assert_eq!(
            share.try_take(ip("10.0.0.1")).unwrap_err(),
            Refusal::SourceFull
        );
        let _b1 = share.try_take(ip("10.0.0.2")).unwrap();
        let _c1 = share.try_take(ip("10.0.0.3")).unwrap();
        assert_eq!(
            share.try_take(ip("10.0.0.4")).unwrap_err(),
            Refusal::RouteFull
        );
        assert_eq!(share.held(), 4);
        drop(a1);
        assert_eq!(share.held(), 3);
        let _again = share.try_take(ip("10.0.0.1")).unwrap();
        assert_eq!(
            share.try_take(ip("10.0.0.1")).unwrap_err(),
            Refusal::SourceFull
        );
    }

    #[test]
    fn tickets_given_back_leave_nothing_behind() {
        let share = Share::new(8, 8);
        let tickets: Vec<_> = (0..8)
            .map(|_| share.try_take(ip("192.0.2.7")).unwrap())
            .collect();
        drop(tickets);
        assert_eq!(share.held(), 0);
        assert!(share.lock().by_source.is_empty());
    }

    #[test]
    fn an_ipv6_host_is_one_source_across_its_64_and_a_mapped_ipv4_is_its_address() {
        let share = Share::new(16, 1);
        let _t = share.try_take(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            share.try_take(ip("2001:db8:1:2:ffff::9")).unwrap_err(),
            Refusal::SourceFull
        );
        assert!(share.try_take(ip("2001:db8:1:3::1")).is_ok());
        let _v4 = share.try_take(ip("198.51.100.1")).unwrap();
        assert_eq!(
            share.try_take(ip("::ffff:198.51.100.1")).unwrap_err(),
            Refusal::SourceFull
        );
    }
}
