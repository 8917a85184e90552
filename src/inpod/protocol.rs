//! ZDS framing: one protobuf message per SOCK_SEQPACKET datagram, with the pod's network
//! namespace fd attached to `Add` requests as `SCM_RIGHTS` ancillary data.
//!
//! [`SeqPacket`] is both ends: ztunnel connects as the client ([`SeqPacket::connect`]); the
//! test CNI (`crate::testbed::cni`, tests only) listens and accepts ([`listen`]). One of the
//! few modules allowed `unsafe` (see the crate root): sendmsg/recvmsg with control messages,
//! which neither std nor socket2 expose for SEQPACKET sockets.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Upstream's receive buffer: a larger request is an error, not silently truncated.
pub const MAX_MESSAGE: usize = 1024;

/// Why a ZDS exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("ZDS socket: {0}")]
    Io(#[from] io::Error),
    #[error("ZDS message larger than {MAX_MESSAGE} bytes (truncated)")]
    Truncated,
    #[error("ZDS peer sent more file descriptors than expected (control data truncated)")]
    ControlTruncated,
    #[error("ZDS peer closed the connection")]
    Closed,
    #[error("malformed ZDS message: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// A connected SEQPACKET unix socket registered with the tokio reactor.
pub struct SeqPacket {
    fd: AsyncFd<Socket>,
}

fn seqpacket() -> io::Result<Socket> {
    let s = Socket::new(Domain::UNIX, Type::SEQPACKET.cloexec(), None)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

fn register(s: Socket) -> io::Result<AsyncFd<Socket>> {
    // SAFETY: `Socket` owns its fd, which stays open and unchanged until the AsyncFd (which
    // owns the Socket) is dropped.
    Ok(unsafe { AsyncFd::register(s) }?)
}

/// A listening SEQPACKET socket (the CNI side).
pub struct SeqPacketListener {
    fd: AsyncFd<Socket>,
}

/// Binds and listens on `path` (replacing a stale socket file).
pub fn listen(path: &Path) -> io::Result<SeqPacketListener> {
    let _ = std::fs::remove_file(path);
    let s = seqpacket()?;
    s.bind(&SockAddr::unix(path)?)?;
    s.listen(16)?;
    Ok(SeqPacketListener { fd: register(s)? })
}

impl SeqPacketListener {
    pub async fn accept(&self) -> io::Result<SeqPacket> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|s| s.get_ref().accept()) {
                Ok(Ok((s, _))) => {
                    s.set_nonblocking(true)?;
                    return Ok(SeqPacket { fd: register(s)? });
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

impl SeqPacket {
    /// Connects to the CNI's socket (INPOD_UDS).
    pub async fn connect(path: &Path) -> io::Result<SeqPacket> {
        let s = seqpacket()?;
        match s.connect(&SockAddr::unix(path)?) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let fd = register(s)?;
        let _ = fd.writable().await?;
        if let Some(e) = fd.get_ref().take_error()? {
            return Err(e);
        }
        Ok(SeqPacket { fd })
    }

    /// Sends one message, with `pass` attached as SCM_RIGHTS when given.
    pub async fn send(&self, msg: &[u8], pass: Option<RawFd>) -> Result<(), ProtocolError> {
        loop {
            let mut guard = self.fd.ready(Interest::WRITABLE).await?;
            match guard.try_io(|s| sendmsg(s.get_ref().as_raw_fd(), msg, pass)) {
                Ok(res) => return res.map_err(ProtocolError::from),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one message and the fd attached to it, if any.
    pub async fn recv(&self) -> Result<Received, ProtocolError> {
        loop {
            let mut guard = self.fd.ready(Interest::READABLE).await?;
            match guard.try_io(|s| recvmsg(s.get_ref().as_raw_fd())) {
                Ok(res) => return res?,
                Err(_would_block) => continue,
            }
        }
    }

    pub async fn send_msg<M: prost::Message>(&self, msg: &M, pass: Option<RawFd>) -> Result<(), ProtocolError> {
        self.send(&msg.encode_to_vec(), pass).await
    }

    pub async fn recv_msg<M: prost::Message + Default>(&self) -> Result<(M, Option<OwnedFd>), ProtocolError> {
        let (buf, fd) = self.recv().await?;
        Ok((M::decode(buf.as_slice())?, fd))
    }
}

/// Room for one fd in the control buffer (CMSG_SPACE(sizeof(int)), aligned generously).
const CMSG_BUF: usize = 64;

fn sendmsg(fd: RawFd, msg: &[u8], pass: Option<RawFd>) -> io::Result<()> {
    let mut iov = libc::iovec { iov_base: msg.as_ptr() as *mut libc::c_void, iov_len: msg.len() };
    let mut cbuf = [0u64; CMSG_BUF / 8];
    // SAFETY: msghdr is plain old data; every pointer in it refers to live locals above.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    if let Some(pass) = pass {
        // SAFETY: the control buffer is large enough for one int (CMSG_SPACE(4) <= 64) and
        // aligned for cmsghdr (u64 array); CMSG_FIRSTHDR is non-null for a non-empty buffer.
        unsafe {
            let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
            hdr.msg_control = cbuf.as_mut_ptr().cast();
            hdr.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&hdr);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), pass);
        }
    }
    // SAFETY: valid socket fd and a fully initialised msghdr.
    let n = unsafe { libc::sendmsg(fd, &hdr, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != msg.len() {
        return Err(io::Error::other("short SEQPACKET send"));
    }
    Ok(())
}

/// One received message and its fd.
type Received = (Vec<u8>, Option<OwnedFd>);

/// Outer error: the socket (WouldBlock drives readiness); inner: what the peer sent.
fn recvmsg(fd: RawFd) -> io::Result<Result<Received, ProtocolError>> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut cbuf = [0u64; CMSG_BUF / 8];
    // SAFETY: as in sendmsg; the kernel writes at most iov_len / msg_controllen bytes.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = cbuf.as_mut_ptr().cast();
    hdr.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    // SAFETY: valid fd, msghdr pointing at live buffers.
    let n = unsafe { libc::recvmsg(fd, &mut hdr, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // Collect any passed fds first so they are closed (OwnedFd) on every error path.
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel just wrote, with the libc macros.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let len = (*cmsg).cmsg_len as usize - (data as usize - cmsg as usize);
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    let raw = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(raw));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&hdr, cmsg);
        }
    }
    if n == 0 {
        return Ok(Err(ProtocolError::Closed));
    }
    if hdr.msg_flags & libc::MSG_TRUNC != 0 {
        return Ok(Err(ProtocolError::Truncated));
    }
    if hdr.msg_flags & libc::MSG_CTRUNC != 0 || fds.len() > 1 {
        return Ok(Err(ProtocolError::ControlTruncated));
    }
    buf.truncate(n as usize);
    Ok(Ok((buf, fds.pop())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::zds;

    #[tokio::test]
    async fn message_and_fd_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zds.sock");
        let l = listen(&path).unwrap();
        let (client, server) = tokio::join!(SeqPacket::connect(&path), l.accept());
        let (client, server) = (client.unwrap(), server.unwrap());

        let hello = zds::ZdsHello { version: zds::Version::V1 as i32 };
        client.send_msg(&hello, None).await.unwrap();
        let (got, fd) = server.recv_msg::<zds::ZdsHello>().await.unwrap();
        assert_eq!(got, hello);
        assert!(fd.is_none());

        // Pass a real fd (our own netns) and check it refers to the same file.
        let file = std::fs::File::open("/proc/self/ns/net").unwrap();
        let req = zds::WorkloadRequest {
            payload: Some(zds::workload_request::Payload::Add(zds::AddWorkload {
                uid: "u1".into(),
                workload_info: None,
            })),
        };
        server.send_msg(&req, Some(file.as_raw_fd())).await.unwrap();
        let (got, fd) = client.recv_msg::<zds::WorkloadRequest>().await.unwrap();
        assert_eq!(got, req);
        use std::os::unix::fs::MetadataExt;
        let passed = std::fs::File::from(fd.expect("fd passed"));
        assert_eq!(passed.metadata().unwrap().ino(), file.metadata().unwrap().ino());
    }

    #[tokio::test]
    async fn oversized_message_is_an_error_and_close_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zds.sock");
        let l = listen(&path).unwrap();
        let (client, server) = tokio::join!(SeqPacket::connect(&path), l.accept());
        let (client, server) = (client.unwrap(), server.unwrap());
        server.send(&vec![7u8; MAX_MESSAGE + 1], None).await.unwrap();
        assert!(matches!(client.recv().await, Err(ProtocolError::Truncated)));
        drop(server);
        assert!(matches!(client.recv().await, Err(ProtocolError::Closed)));
    }
}
