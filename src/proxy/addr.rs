//! The roles a socket address plays on the data path, as types.
//!
//! A connection handler juggles several addresses at once: who connected ([`SourceAddr`]),
//! the address the connection reached us on ([`ServedAddr`]), and where it wants to go
//! ([`DestinationAddr`]: a CONNECT authority, an original destination, a SOCKS5 target).
//! As plain `SocketAddr`s they are easy to swap, and the self-relay hole was exactly that: a
//! bound listener address checked where the destination was meant. Each type is built from
//! a raw address once, normalised (IPv4-mapped IPv6 back to IPv4) on the way in, and the
//! checks that care about a role take that role's type.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::util::net::canonical;

macro_rules! address_role {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(SocketAddr);

        impl $name {
            /// Wraps `addr`, normalised.
            pub fn new(addr: SocketAddr) -> $name {
                $name(canonical(addr))
            }

            pub fn get(self) -> SocketAddr {
                self.0
            }

            pub fn ip(self) -> IpAddr {
                self.0.ip()
            }

            pub fn port(self) -> u16 {
                self.0.port()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

address_role!(
    /// Where a connection came from: the TCP peer that connected to us.
    SourceAddr
);
address_role!(
    /// The address a connection reached us on (its local address): what the peer dialled.
    ServedAddr
);
address_role!(
    /// Where a connection is going: a CONNECT authority, an original destination or a SOCKS5
    /// target.
    DestinationAddr
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_normalised_on_the_way_in() {
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:15008".parse().unwrap();
        let d = DestinationAddr::new(mapped);
        assert_eq!(d.get(), "10.1.2.3:15008".parse::<SocketAddr>().unwrap());
        assert_eq!((d.ip(), d.port()), ("10.1.2.3".parse::<IpAddr>().unwrap(), 15008));
        assert_eq!(ServedAddr::new(mapped).to_string(), "10.1.2.3:15008");
        assert_eq!(SourceAddr::new(mapped).get(), d.get());
    }
}
