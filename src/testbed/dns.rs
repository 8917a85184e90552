//! A test DNS server (UDP): answers A/AAAA for the names it is given, with their TTL,
//! NXDOMAIN for anything else, and counts the queries per name, so tests can point ztunnel's
//! resolvers at it and see what ztunnel asked and when. Thread of its own; stops when dropped.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};

/// Names it answers: name (no trailing dot) → (addresses, TTL in seconds).
pub type Records = HashMap<String, (Vec<IpAddr>, u32)>;

pub struct TestDns {
    pub addr: SocketAddr,
    records: Arc<Mutex<Records>>,
    queries: Arc<Mutex<Vec<(String, RecordType)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestDns {
    pub fn start(addr: SocketAddr, records: Records) -> io::Result<TestDns> {
        let sock = UdpSocket::bind(addr)?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = sock.local_addr()?;
        let records = Arc::new(Mutex::new(records));
        let queries = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, q, s) = (records.clone(), queries.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else { continue };
                let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
                let Some(question) = query.queries.first().cloned() else { continue };
                let name = question.name().to_ascii().trim_end_matches('.').to_string();
                q.lock().unwrap().push((name.clone(), question.query_type()));
                let mut resp = Message::response(query.metadata.id, OpCode::Query);
                resp.metadata.recursion_desired = query.metadata.recursion_desired;
                resp.metadata.recursion_available = true;
                match r.lock().unwrap().get(&name) {
                    None => resp.metadata.response_code = ResponseCode::NXDomain,
                    Some((ips, ttl)) => {
                        for ip in ips {
                            let data = match (ip, question.query_type()) {
                                (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
                                (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
                                _ => continue,
                            };
                            resp.add_answer(Record::from_rdata(question.name().clone(), *ttl, data));
                        }
                    }
                }
                resp.add_query(question);
                if let Ok(bytes) = resp.to_vec() {
                    let _ = sock.send_to(&bytes, from);
                }
            }
        });
        Ok(TestDns { addr, records, queries, stop, thread: Some(thread) })
    }

    /// Replaces the records (e.g. to move a name to another address).
    pub fn set_records(&self, records: Records) {
        *self.records.lock().unwrap() = records;
    }

    /// How many queries (any type) asked for `name`.
    pub fn queries_for(&self, name: &str) -> usize {
        self.queries.lock().unwrap().iter().filter(|(n, _)| n == name).count()
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
