//! A test DNS server (UDP and TCP): answers A/AAAA for the names it is given, with their TTL,
//! NXDOMAIN for anything else, and counts the queries per name, so tests can point ztunnel's
//! resolvers at it and see what ztunnel asked and when. Threads of its own; stops when dropped.

use std::collections::HashMap;
use std::io;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
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
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// The answer to one query: the records for its name, NXDOMAIN for others; logged in `queries`.
fn answer(records: &Mutex<Records>, queries: &Mutex<Vec<(String, RecordType)>>, bytes: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(bytes).ok()?;
    let question = query.queries.first().cloned()?;
    let name = question.name().to_ascii().trim_end_matches('.').to_string();
    queries.lock().unwrap().push((name.clone(), question.query_type()));
    let mut resp = Message::response(query.metadata.id, OpCode::Query);
    resp.metadata.recursion_desired = query.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    match records.lock().unwrap().get(&name) {
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
    resp.to_vec().ok()
}

impl TestDns {
    /// Serves UDP and TCP (length-prefixed, one connection at a time) on `addr`.
    pub fn start(addr: SocketAddr, records: Records) -> io::Result<TestDns> {
        let sock = UdpSocket::bind(addr)?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = sock.local_addr()?;
        let tcp = TcpListener::bind(addr)?;
        tcp.set_nonblocking(true)?;
        let records = Arc::new(Mutex::new(records));
        let queries = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, q, s) = (records.clone(), queries.clone(), stop.clone());
        let udp_thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else { continue };
                if let Some(bytes) = answer(&r, &q, &buf[..n]) {
                    let _ = sock.send_to(&bytes, from);
                }
            }
        });
        let (r, q, s) = (records.clone(), queries.clone(), stop.clone());
        let tcp_thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = tcp.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let mut len = [0u8; 2];
                while conn.read_exact(&mut len).is_ok() {
                    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
                    if conn.read_exact(&mut msg).is_err() {
                        break;
                    }
                    let Some(bytes) = answer(&r, &q, &msg) else { break };
                    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
                    out.extend_from_slice(&bytes);
                    if conn.write_all(&out).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(TestDns { addr, records, queries, stop, threads: vec![udp_thread, tcp_thread] })
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
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
