//! The index of services' CIDR VIPs (a ServiceEntry address like `10.10.0.0/16`) on one
//! network, for the destinations that match no exact VIP. The state keeps one per network.
//!
//! Owns [`CidrIndex`]. Pure and persistent like the rest of the state: a prefix → service keys
//! map plus a count of how many prefixes of each length exist. A lookup masks the address once
//! per length present, longest first, so it costs O(distinct prefix lengths × log n) whatever
//! the number of services (at most 33 or 129 lengths, a handful in practice), and an insert or
//! removal touches only its own prefix's entry.

use std::net::IpAddr;
use std::sync::Arc;

use imbl::OrdMap;

use super::Key;
use crate::rbac::Cidr;
use crate::util::net::canonical_ip;

/// Service keys by CIDR VIP.
#[derive(Debug, Clone, Default)]
pub(crate) struct CidrIndex {
    /// `(prefix length, masked address)` → keys of the services claiming that prefix, in
    /// insertion order (upstream's last tie-break among equally long matches is "first").
    by_prefix: OrdMap<(u8, IpAddr), Arc<[Key]>>,
    /// `(is IPv6, prefix length)` → how many prefixes of that length exist: the lengths a
    /// lookup has to try.
    lengths: OrdMap<(bool, u8), usize>,
}

impl CidrIndex {
    /// Records that service `key` claims `cidr`. Claiming it again keeps its place.
    pub(crate) fn insert(&mut self, cidr: &Cidr, key: &Key) {
        let at = (cidr.prefix_len(), cidr.addr());
        let list = self.by_prefix.get(&at);
        if list.is_some_and(|l| l.contains(key)) {
            return;
        }
        let mut keys = list.map(|l| l.to_vec()).unwrap_or_default();
        keys.push(key.clone());
        self.by_prefix.insert(at, keys.into());
        *self.lengths.entry((cidr.addr().is_ipv6(), cidr.prefix_len())).or_insert(0) += 1;
    }

    /// Undoes [`CidrIndex::insert`]; a prefix `key` does not claim is left alone.
    pub(crate) fn remove(&mut self, cidr: &Cidr, key: &Key) {
        let at = (cidr.prefix_len(), cidr.addr());
        let Some(list) = self.by_prefix.get(&at) else { return };
        if !list.contains(key) {
            return;
        }
        let rest: Vec<Key> = list.iter().filter(|k| *k != key).cloned().collect();
        if rest.is_empty() {
            self.by_prefix.remove(&at);
        } else {
            self.by_prefix.insert(at, rest.into());
        }
        let len = (cidr.addr().is_ipv6(), cidr.prefix_len());
        match self.lengths.get(&len).copied() {
            Some(n) if n > 1 => {
                self.lengths.insert(len, n - 1);
            }
            _ => {
                self.lengths.remove(&len);
            }
        }
    }

    /// The service keys of each prefix containing `ip`, longest prefix first. Families never
    /// match each other; a v4-mapped address is looked up as IPv4 (what it will be dialed as).
    pub(crate) fn matches(&self, ip: IpAddr) -> impl Iterator<Item = &[Key]> + '_ {
        let ip = canonical_ip(ip);
        let v6 = ip.is_ipv6();
        self.lengths.range((v6, 0)..=(v6, u8::MAX)).rev().filter_map(move |((_, len), _)| {
            // Within the family's range, so the length is valid for `ip`.
            let prefix = Cidr::new(ip, *len).ok()?;
            self.by_prefix.get(&(*len, prefix.addr())).map(|l| &l[..])
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }

    /// How many distinct prefixes are indexed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_prefix.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn keys(idx: &CidrIndex, addr: &str) -> Vec<Vec<String>> {
        idx.matches(ip(addr)).map(|l| l.iter().map(|k| k.to_string()).collect()).collect()
    }

    #[test]
    fn longest_prefix_first_per_family() {
        let mut idx = CidrIndex::default();
        idx.insert(&cidr("10.0.0.0/8"), &"wide".into());
        idx.insert(&cidr("10.1.0.0/16"), &"narrow".into());
        idx.insert(&cidr("fd00::/16"), &"v6".into());
        idx.insert(&cidr("fd00:1::/32"), &"v6narrow".into());
        assert_eq!(keys(&idx, "10.1.2.3"), vec![vec!["narrow"], vec!["wide"]]);
        assert_eq!(keys(&idx, "10.2.0.1"), vec![vec!["wide"]]);
        assert_eq!(keys(&idx, "::ffff:10.1.0.1"), vec![vec!["narrow"], vec!["wide"]], "v4-mapped is v4");
        assert_eq!(keys(&idx, "fd00:1::5"), vec![vec!["v6narrow"], vec!["v6"]]);
        assert!(keys(&idx, "11.0.0.1").is_empty());
        // 0x0a00:: would match 10.0.0.0/8 if families were mixed.
        assert!(keys(&idx, "a00::1").is_empty());
    }

    #[test]
    fn shared_prefix_keeps_insertion_order_and_removal_cleans_up() {
        let mut idx = CidrIndex::default();
        let (a, b) = (Key::from("a"), Key::from("b"));
        idx.insert(&cidr("10.0.0.0/24"), &a);
        idx.insert(&cidr("10.0.0.0/24"), &b);
        idx.insert(&cidr("10.0.0.0/24"), &a);
        assert_eq!(keys(&idx, "10.0.0.9"), vec![vec!["a", "b"]]);
        idx.remove(&cidr("10.0.0.0/24"), &a);
        assert_eq!(keys(&idx, "10.0.0.9"), vec![vec!["b"]]);
        idx.remove(&cidr("10.0.0.0/24"), &a);
        assert_eq!(idx.lengths.get(&(false, 24)), Some(&1), "a second removal changes nothing");
        idx.remove(&cidr("10.0.0.0/24"), &b);
        assert!(keys(&idx, "10.0.0.9").is_empty());
        assert_eq!(idx.len(), 0);
        assert!(idx.lengths.is_empty());
    }

    #[test]
    fn zero_length_prefix_matches_everything_in_its_family() {
        let mut idx = CidrIndex::default();
        idx.insert(&cidr("0.0.0.0/0"), &"all".into());
        assert_eq!(keys(&idx, "192.168.1.1"), vec![vec!["all"]]);
        assert!(keys(&idx, "fd00::1").is_empty());
    }
}
