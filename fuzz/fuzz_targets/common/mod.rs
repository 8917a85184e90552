//! Helpers shared by the fuzz targets: an in-memory byte stream standing in for a socket, a
//! single poll for futures that must finish without real I/O, and length-prefixed framing for
//! targets that take a sequence of messages.

#![allow(dead_code)] // each target uses a different subset

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A peer that sends `input` and then closes; whatever we write is counted and dropped.
/// At the end of the input it returns `Pending` (after waking itself) `yields` times before
/// reporting EOF, so tasks the code under test spawned get to run while the connection is
/// still open.
pub struct MemIo {
    input: Vec<u8>,
    pos: usize,
    yields: u8,
    pub written: usize,
}

impl MemIo {
    pub fn new(input: Vec<u8>, yields: u8) -> MemIo {
        MemIo { input, pos: 0, yields, written: 0 }
    }
}

impl AsyncRead for MemIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let rest = &self.input[self.pos..];
        if rest.is_empty() && self.yields > 0 {
            self.yields -= 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemIo {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Polls `f` once. The code these targets drive does no real I/O, so anything but `Ready`
/// means it waits on something that will never come: a bug worth a crash report.
pub fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("future blocked on in-memory input"),
    }
}

/// Splits `data` into messages, each prefixed by a big-endian u16 length (a short final
/// message takes what is left).
pub fn frames(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if data.len() < 2 {
            return None;
        }
        let len = u16::from_be_bytes([data[0], data[1]]) as usize;
        let rest = &data[2..];
        let (msg, tail) = rest.split_at(len.min(rest.len()));
        data = tail;
        Some(msg)
    })
}
