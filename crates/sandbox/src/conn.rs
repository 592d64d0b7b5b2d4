//! Connections that a handler can cut: the mechanism behind the "dropped connection" and
//! "lost response" faults.
//!
//! [`SandboxListener`] wraps the TCP listener; every accepted socket becomes a [`CuttableStream`]
//! that shares a [`ConnectionCutter`] with the request handlers (through axum's connect-info
//! extension). Once cut, every read, write and flush on the socket fails, so hyper abandons the
//! connection and drops the socket: the client sees the connection close with no response bytes.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The switch that cuts one connection. Cheap to clone; all clones cut the same connection.
#[derive(Clone, Debug, Default)]
pub struct ConnectionCutter {
    /// Set once by [`ConnectionCutter::cut`]; read by every I/O call on the socket.
    cut: Arc<AtomicBool>,
}

impl ConnectionCutter {
    /// Cuts the connection: no byte is written after this, and the socket is closed as soon as
    /// hyper next touches it (at the latest when it tries to write the response).
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

/// What a request handler learns about its connection: the peer and the connection's cutter.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// The peer's address.
    pub remote: SocketAddr,
    /// Cuts this request's connection.
    pub cutter: ConnectionCutter,
}

impl Connected<IncomingStream<'_, SandboxListener>> for ConnectionInfo {
    fn connect_info(stream: IncomingStream<'_, SandboxListener>) -> Self {
        Self {
            remote: *stream.remote_addr(),
            cutter: stream.io().cutter.clone(),
        }
    }
}

/// A TCP listener whose connections can be cut by request handlers.
#[derive(Debug)]
pub struct SandboxListener {
    inner: TcpListener,
}

impl SandboxListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener) -> Self {
        Self { inner }
    }
}

impl Listener for SandboxListener {
    type Io = CuttableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    // Small request/response exchanges: do not wait to coalesce segments.
                    let _ = stream.set_nodelay(true);
                    return (
                        CuttableStream {
                            inner: stream,
                            cutter: ConnectionCutter::default(),
                        },
                        addr,
                    );
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, as axum does.
                    tracing::warn!(error = %e, "sandbox: accept failed, retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted TCP stream that fails all I/O once its [`ConnectionCutter`] is cut.
#[derive(Debug)]
pub struct CuttableStream {
    inner: TcpStream,
    cutter: ConnectionCutter,
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection cut by sandbox fault injection",
    )
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.cutter.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.cutter.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.cutter.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.cutter.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
