//! Shared, immutable strings for the names a mesh repeats, and the interner that shares them.
//!
//! Owns [`Name`] and [`Interner`]. A mesh of 100k pods has a few hundred namespaces, service
//! accounts, nodes and canonical names, and a handful of trust domains and clusters: as one
//! `String` per field per workload they were most of a workload's memory. A [`Name`] is one
//! thin pointer (8 bytes, against `String`'s 24 plus a heap copy) to a shared, reference-
//! counted text, the empty name allocates nothing, and the [`Interner`] the state owns hands
//! every workload the same copy of each value. Thin rather than `Arc<str>` (16 bytes): a
//! workload holds 13 names and every index key is one, and a name is read far more often
//! than it is made, so the second indirection is cheaper than the 8 bytes everywhere.
//! (A single-allocation thin string needs `unsafe` or another dependency; `Arc<Box<str>>`
//! needs neither, at 32 bytes more per distinct text, which interning makes rare.) Names read like `&str` (deref, comparisons with
//! `str`/`String`, `Borrow<str>` for map lookups), so code that read the `String` fields
//! keeps working.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable string shared by reference count; empty is `None` (no allocation). Equality,
/// order and hash are those of the text, so a `Name` and a `&str` find the same map entry.
#[derive(Clone, Default)]
pub struct Name(Option<Arc<Box<str>>>);

impl Name {
    pub fn as_str(&self) -> &str {
        self.0.as_deref().map_or("", |s| s)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Whether both are the same shared copy (or both empty): what the interner achieved.
    pub fn ptr_eq(&self, other: &Name) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name((!s.is_empty()).then(|| Arc::new(Box::from(s))))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name((!s.is_empty()).then(|| Arc::new(s.into_boxed_str())))
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Name {
        Name::from(s.as_str())
    }
}

impl From<&Name> for Name {
    fn from(s: &Name) -> Name {
        s.clone()
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.as_str().to_string()
    }
}

impl From<&Name> for String {
    fn from(n: &Name) -> String {
        n.as_str().to_string()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.ptr_eq(other) || self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

macro_rules! eq_with {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Name {
            fn eq(&self, other: &$t) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<Name> for $t {
            fn eq(&self, other: &Name) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}
eq_with!(str, String);

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == other.as_str()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Name::from(String::deserialize(d)?))
    }
}

/// A port map (service port → target port) as endpoints share it: most endpoints of a
/// service carry the same one.
pub type PortMap = Arc<BTreeMap<u16, u16>>;

/// Hands out one shared copy per distinct text (and per distinct endpoint port map). Owned by
/// the state (every snapshot and the writer's working copy share it); only writers call it.
///
/// Never a leak under churn: a value no stored one uses any more (only the interner holds
/// it) is dropped by a sweep, run whenever a table has doubled since its last one, so each
/// table stays within twice what is live (plus a small floor) and the sweep's cost is
/// amortised O(1) per intern.
#[derive(Debug, Default)]
pub struct Interner {
    names: Table<Text, str>,
    ports: Table<PortMap, BTreeMap<u16, u16>>,
}

/// A name's text as the table holds it: found by `&str`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Text(Arc<Box<str>>);

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// What a table holds: a shared value whose count says whether anyone else still uses it.
trait Shared: Clone + Hash + Eq {
    fn users(&self) -> usize;
}

impl Shared for Text {
    fn users(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl Shared for PortMap {
    fn users(&self) -> usize {
        Arc::strong_count(self)
    }
}

#[derive(Debug)]
struct Table<T, Q: ?Sized> {
    set: HashSet<T>,
    /// Size at which the next sweep runs.
    sweep_at: usize,
    _lookup: std::marker::PhantomData<fn(&Q)>,
}

impl<T, Q: ?Sized> Default for Table<T, Q> {
    fn default() -> Self {
        Table { set: HashSet::new(), sweep_at: SWEEP_FLOOR, _lookup: std::marker::PhantomData }
    }
}

/// Below this many entries a table is never swept (a sweep would free almost nothing).
const SWEEP_FLOOR: usize = 1024;

impl<T: Shared + Borrow<Q>, Q: ?Sized + Hash + Eq> Table<T, Q> {
    /// The shared copy of `v`, made by `make` if it is the first.
    fn get(&mut self, v: &Q, make: impl FnOnce() -> T) -> T {
        if let Some(shared) = self.set.get(v) {
            return shared.clone();
        }
        if self.set.len() >= self.sweep_at {
            self.sweep();
        }
        let made = make();
        self.set.insert(made.clone());
        made
    }

    fn sweep(&mut self) {
        self.set.retain(|s| s.users() > 1);
        self.sweep_at = (self.set.len() * 2).max(SWEEP_FLOOR);
        // A table that held a burst of short-lived values gives the slots back too.
        if self.set.capacity() > 4 * self.sweep_at {
            self.set.shrink_to(self.sweep_at);
        }
    }
}

impl Interner {
    /// The shared copy of `name`'s text (`name` itself, if it is the first).
    pub fn intern(&mut self, name: &Name) -> Name {
        let Some(arc) = &name.0 else { return Name::default() };
        Name(Some(self.names.get(arc.as_ref(), || Text(arc.clone())).0))
    }

    /// Replaces `name` with its shared copy, in place.
    pub fn share(&mut self, name: &mut Name) {
        if name.0.is_some() {
            *name = self.intern(name);
        }
    }

    /// The shared copy of a port map.
    pub fn ports(&mut self, ports: &BTreeMap<u16, u16>) -> PortMap {
        self.ports.get(ports, || Arc::new(ports.clone()))
    }

    /// Drops every value only the tables still hold.
    pub fn sweep(&mut self) {
        self.names.sweep();
        self.ports.sweep();
    }

    /// Distinct texts held (for tests and benches).
    pub fn len(&self) -> usize {
        self.names.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_a_str() {
        let n = Name::from("ns-1");
        assert_eq!(n, "ns-1");
        assert_eq!("ns-1", n);
        assert_eq!(n, String::from("ns-1"));
        assert_eq!(n.len(), 4);
        assert!(n.starts_with("ns"));
        assert_eq!(n.to_string(), "ns-1");
        assert_eq!(format!("{n:?}"), "\"ns-1\"");
        let mut m = BTreeMap::new();
        m.insert(n.clone(), 1);
        assert_eq!(m.get("ns-1"), Some(&1));
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"ns-1\"");
        assert_eq!(serde_json::from_str::<Name>("\"ns-1\"").unwrap(), n);
    }

    #[test]
    fn empty_is_unallocated_and_equal_to_empty_text() {
        let e = Name::from(String::new());
        assert!(e.0.is_none());
        assert_eq!(e, Name::default());
        assert_eq!(e, "");
        assert!(e.is_empty());
        let a = Name::from("a");
        assert!(Name::default() < a, "empty sorts first, as \"\" does");
    }

    #[test]
    fn interning_shares_one_copy() {
        let mut i = Interner::default();
        let a = i.intern(&Name::from("default"));
        let b = i.intern(&Name::from(String::from("default")));
        assert!(a.ptr_eq(&b));
        assert_eq!(i.len(), 1);
        assert!(i.intern(&Name::default()).is_empty());
        assert_eq!(i.len(), 1, "the empty name is never stored");
    }

    #[test]
    fn unused_texts_are_swept_so_churn_does_not_grow_the_table() {
        let mut i = Interner::default();
        let kept: Vec<Name> = (0..10).map(|k| i.intern(&Name::from(format!("kept-{k}")))).collect();
        // A million distinct revisions, each dropped right after use (what label churn does).
        for r in 0..1_000_000 {
            let n = i.intern(&Name::from(format!("rev-{r}")));
            drop(n);
        }
        assert!(i.len() <= 2 * SWEEP_FLOOR, "table grew to {}", i.len());
        i.sweep();
        assert_eq!(i.len(), kept.len(), "only live texts survive a sweep");
        let again = i.intern(&Name::from("kept-3"));
        assert!(again.ptr_eq(&kept[3]));
    }
}
