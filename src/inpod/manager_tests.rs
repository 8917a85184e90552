use std::sync::{Arc, Mutex};

use super::*;

/// Records starts; fails for pods named "broken" until `fix` is set.
#[derive(Clone, Default)]
struct Recorder {
    started: Arc<Mutex<Vec<String>>>,
    fixed: Arc<Mutex<bool>>,
    watchers: Arc<Mutex<Vec<(String, DrainWatcher)>>>,
}

impl PodStarter for Recorder {
    fn start(&self, pod: &PodInfo, _: &Netns) -> Result<PodHandle, String> {
        if pod.name == "broken" && !*self.fixed.lock().unwrap() {
            return Err("address in use".into());
        }
        self.started.lock().unwrap().push(pod.uid.clone());
        let (t, w) = pod_drain();
        self.watchers.lock().unwrap().push((pod.uid.clone(), w));
        Ok(PodHandle { trigger: t, task: None, connections: Default::default() })
    }
}

impl Recorder {
    fn is_stopped(&self, uid: &str) -> bool {
        self.watchers.lock().unwrap().iter().filter(|(u, _)| u == uid).all(|(_, w)| w.is_draining())
    }
}

fn ns() -> Netns {
    Netns::open("/proc/self/ns/net").unwrap()
}

fn add(uid: &str, name: &str) -> zds::WorkloadRequest {
    zds::WorkloadRequest {
        payload: Some(Payload::Add(zds::AddWorkload {
            uid: uid.into(),
            workload_info: Some(zds::WorkloadInfo {
                name: name.into(),
                namespace: "default".into(),
                service_account: "sa".into(),
            }),
        })),
    }
}
fn keep(uid: &str) -> zds::WorkloadRequest {
    zds::WorkloadRequest { payload: Some(Payload::Keep(zds::KeepWorkload { uid: uid.into() })) }
}
fn del(uid: &str) -> zds::WorkloadRequest {
    zds::WorkloadRequest { payload: Some(Payload::Del(zds::DelWorkload { uid: uid.into() })) }
}
fn snap() -> zds::WorkloadRequest {
    zds::WorkloadRequest { payload: Some(Payload::SnapshotSent(zds::SnapshotSent {})) }
}

#[test]
fn add_is_idempotent() {
    let r = Recorder::default();
    let mut t = PodTable::new(r.clone(), PodStates::default());
    t.connected();
    assert_eq!(t.apply(add("u1", "a"), Some(ns())), Ok(Applied::Ok));
    assert_eq!(t.apply(add("u1", "a"), Some(ns())), Ok(Applied::Ok));
    assert_eq!(*r.started.lock().unwrap(), vec!["u1"]);
}

#[test]
fn snapshot_after_reconnect_removes_unannounced_pods() {
    let r = Recorder::default();
    let mut t = PodTable::new(r.clone(), PodStates::default());
    t.connected();
    for (u, n) in [("u1", "a"), ("u2", "b"), ("u3", "c")] {
        t.apply(add(u, n), Some(ns())).unwrap();
    }
    assert_eq!(t.apply(snap(), None), Ok(Applied::SnapshotDone { removed: vec![] }));
    // Reconnect: u1 re-added, u2 kept, u3 not mentioned.
    t.connected();
    t.apply(add("u1", "a"), Some(ns())).unwrap();
    t.apply(keep("u2"), None).unwrap();
    assert_eq!(t.apply(snap(), None), Ok(Applied::SnapshotDone { removed: vec!["u3".into()] }));
    assert_eq!(t.uids(), vec!["u1", "u2"]);
    assert_eq!(t.take_stopping().len(), 1);
    // The surviving pods were not restarted.
    assert_eq!(*r.started.lock().unwrap(), vec!["u1", "u2", "u3"]);
}

#[test]
fn del_stops_and_is_idempotent() {
    let r = Recorder::default();
    let mut t = PodTable::new(r.clone(), PodStates::default());
    t.apply(add("u1", "a"), Some(ns())).unwrap();
    t.apply(del("u1"), None).unwrap();
    let stopping = t.take_stopping();
    assert_eq!(stopping.len(), 1);
    stopping[0].trigger.signal();
    assert!(r.is_stopped("u1"));
    assert_eq!(t.apply(del("u1"), None), Ok(Applied::Ok));
    assert!(t.uids().is_empty());
}

#[test]
fn bad_requests_are_refused_with_reasons() {
    let mut t = PodTable::new(Recorder::default(), PodStates::default());
    assert_eq!(t.apply(add("u1", "a"), None), Err(RequestError::MissingNetns("u1".into())));
    assert_eq!(t.apply(keep("nope"), None), Err(RequestError::UnknownKeep("nope".into())));
    assert_eq!(t.apply(zds::WorkloadRequest { payload: None }, None), Err(RequestError::Empty));
    let no_info = zds::WorkloadRequest {
        payload: Some(Payload::Add(zds::AddWorkload { uid: "u2".into(), workload_info: None })),
    };
    assert_eq!(t.apply(no_info, Some(ns())), Err(RequestError::MissingInfo("u2".into())));
}

#[test]
fn failed_add_is_reported_then_retried() {
    let r = Recorder::default();
    let mut t = PodTable::new(r.clone(), PodStates::default());
    let err = t.apply(add("u1", "broken"), Some(ns())).unwrap_err();
    assert!(err.to_string().contains("address in use"), "{err}");
    assert!(!t.is_running("u1"));
    assert_eq!(t.retry_pending(), 1);
    *r.fixed.lock().unwrap() = true;
    assert_eq!(t.retry_pending(), 0);
    assert!(t.is_running("u1"));
    // A pending pod still counts as announced for reconciliation.
    assert_eq!(t.apply(snap(), None), Ok(Applied::SnapshotDone { removed: vec![] }));
}

#[test]
fn states_follow_the_pods_for_the_admin_dump() {
    let states = PodStates::default();
    let mut t = PodTable::new(Recorder::default(), states.clone());
    t.connected();
    t.apply(add("u1", "a"), Some(ns())).unwrap();
    assert!(t.apply(add("u2", "broken"), Some(ns())).is_err());
    let now = states.snapshot();
    assert_eq!(now["u1"].state, Phase::Up);
    assert_eq!(now["u1"].last_error, None);
    assert_eq!((now["u1"].info.name.as_str(), now["u1"].info.service_account.as_str()), ("a", "sa"));
    assert_eq!(now["u2"].state, Phase::Pending);
    assert_eq!(now["u2"].last_error.as_deref(), Some("address in use"));
    let json = serde_json::to_value(&now).unwrap();
    assert_eq!(
        json["u1"],
        serde_json::json!({"state": "Up", "connections": {"inbound": [], "outbound": []}, "info": {"name": "a", "namespace": "default", "serviceAccount": "sa"}})
    );
    // A pod whose proxy is not running has no connection lists.
    assert!(json["u2"].get("connections").is_none(), "{json}");

    t.apply(del("u1"), None).unwrap();
    assert!(!states.snapshot().contains_key("u1"), "a deleted pod leaves the dump");
}
