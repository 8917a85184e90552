//! Where the proxy's state comes from.
//!
//! Either the local config file ([`local`], with hot reload in [`watch`]) or istiod over
//! delta ADS ([`client`], with its pure core in [`cache`] and proto conversion in
//! [`convert`]). Every source produces a whole [`crate::state::ProxyState`] and
//! installs it through [`crate::state::StateStore`]. With `XDS_ON_DEMAND`, [`demand`] lets the
//! data path ask istiod for one address at a time.

pub mod cache;
pub mod client;
pub mod convert;
pub mod demand;
pub mod local;
mod locate;
pub mod metrics;
pub mod watch;

pub use local::{InvalidConfig, LocalConfig, LocalConfigError, LocalWorkload, load_file, load_str};
pub use watch::{LocalFileWatcher, WatchStats, watch};
