//! ZDS requests from the CNI node agent (src/inpod/manager.rs): each datagram is prost-decoded
//! as a `WorkloadRequest` and applied to the pod table, as the manager's loop does. Input:
//! length-prefixed datagrams; a datagram's first byte is not part of the message but says
//! whether a netns fd came with it (bit 0), whether a reconnect happens first (bit 1) and
//! whether failed pods are retried after it (bit 2).

#![no_main]

mod common;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use prost::Message;
use ztunnel::inpod::manager::{Applied, PodHandle, PodStarter, PodTable, pod_drain};
use ztunnel::inpod::states::{PodInfo, PodStates};
use ztunnel::proto::zds::WorkloadRequest;
use ztunnel::socket::netns::Netns;

/// Starts nothing; pods named "fail…" fail to start (so retries run).
struct FakeStarter;

impl PodStarter for FakeStarter {
    fn start(&self, pod: &PodInfo, _: &Netns) -> Result<PodHandle, String> {
        if pod.name.starts_with("fail") {
            return Err("address in use".into());
        }
        let (trigger, _watcher) = pod_drain();
        Ok(PodHandle { trigger, task: None, connections: Default::default() })
    }
}

// Opened once: every Add shares it, as repeated Adds of one pod share its namespace.
static NETNS: LazyLock<Netns> = LazyLock::new(|| Netns::open("/proc/self/ns/net").expect("own netns"));

fuzz_target!(|data: &[u8]| {
    let states = PodStates::default();
    let mut table = PodTable::new(FakeStarter, states.clone());
    table.connected();
    for frame in common::frames(data) {
        let Some((&flags, msg)) = frame.split_first() else { continue };
        if flags & 2 != 0 {
            table.connected();
        }
        let Ok(req) = WorkloadRequest::decode(msg) else { continue };
        let fd = (flags & 1 != 0).then(|| NETNS.clone());
        match table.apply(req, fd) {
            Ok(Applied::SnapshotDone { removed }) => {
                assert!(removed.iter().all(|u| !table.uids().contains(u)));
            }
            Ok(Applied::Ok) => {}
            Err(e) => drop(e.to_string()),
        }
        if flags & 4 != 0 {
            table.retry_pending();
        }
        drop(table.take_stopping());
        // The admin view follows the table.
        let shown: Vec<String> = states.snapshot().into_keys().collect();
        assert_eq!(shown, table.uids());
    }
    table.stop_all();
    assert!(table.uids().is_empty());
});
