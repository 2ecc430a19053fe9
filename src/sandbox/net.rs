//! Our own TCP listener for axum, so a fault can cut one client connection
//! abruptly (a TCP reset, no HTTP answer) — something a handler cannot do
//! through axum's API.
//!
//! Each accepted stream shares a [`ConnControl`] with the request handlers
//! (through `ConnectInfo<ConnInfo>`). [`ConnInfo::reset`] makes every later
//! read or write on the stream fail, and dropping the stream then sends a RST
//! (`SO_LINGER` = 0) instead of an orderly FIN.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Shared between a connection and the requests on it.
#[derive(Debug, Default)]
pub struct ConnControl {
    /// Set once the connection must die.
    killed: AtomicBool,
    /// The last reader's waker, woken on reset so a pending read notices.
    reader: Mutex<Option<Waker>>,
}

/// What a handler knows about its connection (`ConnectInfo<ConnInfo>`).
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// The client's address.
    pub addr: SocketAddr,
    /// The kill switch of the connection.
    control: Arc<ConnControl>,
}

impl ConnInfo {
    /// Cuts the connection: no answer reaches the client, which sees a reset.
    pub fn reset(&self) {
        self.control.killed.store(true, Ordering::SeqCst);
        if let Some(w) = self.control.reader.lock().expect("waker lock").take() {
            w.wake();
        }
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose connections can be reset from a handler.
pub struct KillableListener {
    /// The bound socket.
    inner: TcpListener,
}

impl KillableListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener) -> Self {
        KillableListener { inner }
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = ConnInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let control = Arc::new(ConnControl::default());
                    let info = ConnInfo {
                        addr,
                        control: control.clone(),
                    };
                    return (
                        KillableStream {
                            inner: stream,
                            control,
                        },
                        info,
                    );
                }
                // Out of file descriptors and the like: wait and go on, as
                // axum's own TcpListener does.
                Err(e) => {
                    tracing::warn!("sandbox accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnInfo {
            addr: self.inner.local_addr()?,
            control: Arc::new(ConnControl::default()),
        })
    }
}

/// A TCP stream that fails every operation once its connection is reset.
pub struct KillableStream {
    /// The socket.
    inner: TcpStream,
    /// Its kill switch.
    control: Arc<ConnControl>,
}

impl KillableStream {
    fn check(&self, cx: &Context<'_>) -> io::Result<()> {
        if self.control.killed.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset by sandbox fault",
            ));
        }
        *self.control.reader.lock().expect("waker lock") = Some(cx.waker().clone());
        Ok(())
    }
}

impl Drop for KillableStream {
    fn drop(&mut self) {
        if self.control.killed.load(Ordering::SeqCst) {
            // Closing with a zero linger sends RST: the client sees
            // "connection reset", not a clean end of stream.
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Err(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.control.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.control.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
