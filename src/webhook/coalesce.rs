//! Responses that are ready together leave together.
//!
//! hyper serves each HTTP/2 stream in a task of its own, and the connection
//! task writes whatever responses are ready each time it runs. Tokio runs a
//! task woken by the running one next (its LIFO slot), so when the API
//! server has several reviews in flight on one connection, the connection
//! task wakes after each response and sends it alone: one TLS record and
//! one `writev` per review, the largest cost of a review after the check.
//!
//! `Coalesce` makes the first write after a flush wait one turn of the
//! scheduler: the connection task yields, the other streams whose reviews
//! are ready finish theirs, and the next turn writes them all in one record
//! and one system call. There is no timer: a lone request costs one more
//! poll of its connection, a busy connection saves most of its writes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub struct Coalesce<S> {
    inner: S,
    /// Whether the current batch of writes has had its turn to gather.
    waited: bool,
    /// Whether bytes went through since the last flush: only a flush that
    /// sent something ends a batch, so a caller that flushes before
    /// retrying its write cannot be made to wait forever.
    wrote: bool,
}

impl<S> Coalesce<S> {
    pub fn new(inner: S) -> Self {
        Coalesce {
            inner,
            waited: false,
            wrote: false,
        }
    }

    /// A write's outcome: bytes written belong to the batch.
    fn written(&mut self, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = polled {
            self.wrote |= n > 0;
        }
        polled
    }

    /// Pending for one turn before the first write of a batch.
    fn wait_once(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.waited {
            return Poll::Ready(());
        }
        self.waited = true;
        // Woken at once: the task goes to the back of the run queue, behind
        // the streams it spawned, instead of waiting for anything.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalesce<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesce<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.wait_once(cx));
        let polled = Pin::new(&mut this.inner).poll_write(cx, data);
        this.written(polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.wait_once(cx));
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.written(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    /// A completed flush of written bytes ends the batch: the next write
    /// waits again.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = std::task::ready!(Pin::new(&mut this.inner).poll_flush(cx));
        if std::mem::take(&mut this.wrote) {
            this.waited = false;
        }
        Poll::Ready(flushed)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    /// Counts its wake-ups.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A sink that records each write it receives.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl AsyncWrite for Writes {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().0.push(data.to_vec());
            Poll::Ready(Ok(data.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn the_first_write_of_a_batch_yields_once_and_the_rest_pass() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut io = Coalesce::new(Writes::default());
        let mut io = Pin::new(&mut io);

        // The first write yields, and asks to be polled again at once.
        assert!(io.as_mut().poll_write(&mut cx, b"one").is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(io.inner.0.is_empty());
        // Polled again, it and every write before the flush go through.
        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b"one"),
            Poll::Ready(Ok(3))
        ));
        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b"two"),
            Poll::Ready(Ok(3))
        ));
        assert!(io.as_mut().poll_flush(&mut cx).is_ready());
        assert_eq!(io.inner.0, [b"one".to_vec(), b"two".to_vec()]);
        // After the flush, the next batch waits its turn again.
        assert!(io.as_mut().poll_write(&mut cx, b"three").is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert_eq!(io.inner.0.len(), 2);
        // A flush with nothing written in between does not start a new
        // wait: the write it was waiting for goes through.
        assert!(io.as_mut().poll_flush(&mut cx).is_ready());
        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b"three"),
            Poll::Ready(Ok(5))
        ));
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }
}
