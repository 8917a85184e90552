//! The log writer: each line goes into one process-wide buffer, and a dedicated thread
//! (`ztunnel-log`) writes what has gathered to stdout, one `write` per batch. So a data-plane
//! thread never makes a syscall for a log line, and never stops when stdout does: a log
//! collector that stops reading fills the pipe, and a blocking write would then stall every
//! connection of that thread. Upstream's writer is non-blocking too.
//!
//! Once [`MAX_PENDING`] bytes wait, lines are dropped rather than the proxy stalled; the
//! writer then says how many, in the log itself, when it catches up. [`flush`] at exit
//! writes what is left (bounded by [`FLUSH_DEADLINE`], in case stdout never drains).

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::util::sync::lock;

/// Bytes of log lines that may wait for stdout before new ones are dropped.
pub const MAX_PENDING: usize = 8 << 20;

/// How long the writer waits after the first line of a batch for more before writing. Lines
/// arrive one event at a time; one wake-up of this thread (and one `write`) per batch instead
/// of per line is the point: on a node accepting ~3,500 mTLS connections a second, `futex`
/// calls per handshake went from 2.75 to 0.25 (benches/README.md, "Sixth pass"). Short enough
/// that no reader of the log sees a line late.
const LINGER: Duration = Duration::from_millis(2);

/// How long [`flush`] waits for stdout to take the last lines at exit.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    dropped: u64,
    /// A batch is out of `buf` and being written.
    writing: bool,
    /// [`flush`] was called: write what is left without lingering, then stop.
    closing: bool,
    /// The writer thread waits on `wake` (so a new line must wake it; otherwise it is writing
    /// or lingering and takes the line with its batch without a notify, which is a syscall).
    parked: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// Lines arrived in an empty buffer, or closing.
    wake: Condvar,
    /// The buffer became empty with nothing being written.
    drained: Condvar,
}

/// The `MakeWriter` for the fmt layers: a handle on the shared buffer.
#[derive(Clone)]
pub struct LogWriter(Arc<Shared>);

static STDOUT: OnceLock<LogWriter> = OnceLock::new();

/// The process's stdout writer, starting its thread on first use.
pub fn stdout() -> LogWriter {
    STDOUT
        .get_or_init(|| {
            let w = LogWriter(Arc::default());
            let shared = w.0.clone();
            // If the thread cannot start, lines wait in the buffer (and are dropped past the
            // cap); there is no stdout to report that on but stderr.
            if let Err(e) =
                std::thread::Builder::new().name("ztunnel-log".into()).spawn(move || run(&shared, io::stdout()))
            {
                eprintln!("ztunnel: cannot start the log writer thread: {e}");
            }
            w
        })
        .clone()
}

/// Writes what is buffered and stops the writer; lines logged later are dropped. Waits at most
/// [`FLUSH_DEADLINE`]. Called once at exit.
pub fn flush() {
    if let Some(w) = STDOUT.get() {
        w.close(FLUSH_DEADLINE);
    }
}

impl LogWriter {
    fn append(&self, line: &[u8]) {
        let mut p = lock(&self.0.pending);
        if p.closing || p.buf.len() + line.len() > MAX_PENDING {
            p.dropped += 1;
            return;
        }
        p.buf.extend_from_slice(line);
        let parked = std::mem::take(&mut p.parked);
        drop(p);
        if parked {
            self.0.wake.notify_one();
        }
    }

    fn close(&self, deadline: Duration) {
        let until = Instant::now() + deadline;
        let mut p = lock(&self.0.pending);
        p.closing = true;
        self.0.wake.notify_one();
        while !p.buf.is_empty() || p.writing {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            p = self.0.drained.wait_timeout(p, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// The writer thread: waits for lines, lingers for more, writes the batch; until closed.
fn run(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let mut p = lock(&shared.pending);
        while p.buf.is_empty() && !p.closing {
            p.parked = true;
            p = shared.wake.wait(p).unwrap_or_else(|e| e.into_inner());
        }
        p.parked = false;
        if p.buf.is_empty() && p.dropped == 0 {
            // Closing, and everything is out.
            shared.drained.notify_all();
            return;
        }
        if !p.closing {
            drop(p);
            std::thread::sleep(LINGER);
            p = lock(&shared.pending);
        }
        // Swap buffers so neither side allocates in steady state.
        let mut batch = std::mem::replace(&mut p.buf, std::mem::take(&mut spare));
        let dropped = std::mem::take(&mut p.dropped);
        p.writing = true;
        drop(p);
        if dropped > 0 {
            let _ = writeln!(out, "ztunnel: {dropped} log line(s) dropped: stdout did not keep up");
        }
        // A failed write (stdout closed) loses this batch; nothing better can be done with it.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        spare = batch;
        let mut p = lock(&shared.pending);
        p.writing = false;
        // Only `close` waits on `drained`, and only once `closing` is set.
        if p.buf.is_empty() && p.closing {
            shared.drained.notify_all();
        }
    }
}

/// One event's handle: fmt formats the whole line first and writes it with one `write_all`.
impl Write for LogWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that records each `write` call, and can be made to block.
    #[derive(Clone, Default)]
    struct Sink {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let _open = lock(&self.gate);
            lock(&self.writes).push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn start(sink: &Sink) -> LogWriter {
        let w = LogWriter(Arc::default());
        let (shared, out) = (w.0.clone(), sink.clone());
        std::thread::spawn(move || run(&shared, out));
        w
    }

    fn text(sink: &Sink) -> String {
        String::from_utf8(lock(&sink.writes).concat()).unwrap()
    }

    #[test]
    fn lines_written_together_leave_in_one_write_in_order() {
        let sink = Sink::default();
        let mut w = start(&sink);
        for i in 0..100 {
            w.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        w.close(Duration::from_secs(5));
        let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text(&sink), expected);
        // All 100 arrived within the linger of the first: far fewer writes than lines.
        assert!(lock(&sink.writes).len() <= 3, "{} writes", lock(&sink.writes).len());
    }

    #[test]
    fn a_blocked_stdout_never_blocks_the_logger_and_drops_are_counted() {
        let sink = Sink::default();
        let gate = lock(&sink.gate);
        let mut w = start(&sink);
        let line = vec![b'x'; 1023].into_iter().chain([b'\n']).collect::<Vec<u8>>();
        // Twice the cap, while the output is blocked: every call returns at once.
        let started = Instant::now();
        for _ in 0..(2 * MAX_PENDING / line.len()) {
            w.write_all(&line).unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(2), "logging blocked: {:?}", started.elapsed());
        drop(gate);
        w.close(Duration::from_secs(10));
        let out = text(&sink);
        let kept = out.lines().filter(|l| l.starts_with('x')).count();
        // Kept: the cap's worth, plus the batch the writer had taken before it blocked.
        assert!(kept >= MAX_PENDING / line.len() - 1, "{kept} lines kept");
        let report = out.lines().find(|l| l.contains("dropped")).expect("the drop is reported");
        let n: usize = report.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(n > 0);
        assert_eq!(kept + n, 2 * MAX_PENDING / line.len(), "{report}");
    }

    #[test]
    fn close_gives_up_after_its_deadline_when_stdout_never_drains() {
        let sink = Sink::default();
        let _gate = lock(&sink.gate);
        let mut w = start(&sink);
        w.write_all(b"stuck\n").unwrap();
        let started = Instant::now();
        w.close(Duration::from_millis(200));
        assert!(started.elapsed() < Duration::from_secs(2));
        w.write_all(b"after close\n").unwrap();
        assert_eq!(lock(&w.0.pending).dropped, 1, "lines after close are dropped");
    }
}
