//! Lines written through one buffer and one writer thread: a caller
//! appends its line under a short lock and goes on; the thread takes
//! everything buffered and writes it with one call, so a busy server pays
//! no system call per line. Beyond [`LIMIT`] buffered bytes, lines are
//! dropped and counted, never waited for.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// Bytes waiting at most.
const LIMIT: usize = 4 << 20;
/// The writer wakes when this much waits, and otherwise every [`PERIOD`]:
/// waking it for every line would cost a thread switch per line.
const WAKE: usize = 64 << 10;
/// How long a line waits at most before it is written.
const PERIOD: Duration = Duration::from_millis(20);

struct Shared {
    buffer: Mutex<Vec<u8>>,
    ready: Condvar,
    /// Signalled when the thread finished a write and the buffer is empty.
    drained: Condvar,
    dropped: AtomicU64,
}

/// A cheap handle to a batched output.
#[derive(Clone)]
pub(crate) struct Batched {
    shared: Arc<Shared>,
}

impl Batched {
    /// Starts the writer thread for `out`.
    pub(crate) fn start(name: &str, mut out: Box<dyn Write + Send>) -> io::Result<Batched> {
        let shared = Arc::new(Shared {
            buffer: Mutex::new(Vec::with_capacity(64 << 10)),
            ready: Condvar::new(),
            drained: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let thread = shared.clone();
        std::thread::Builder::new()
            .name(format!("kit-log-{name}"))
            .spawn(move || {
                let mut taken = Vec::with_capacity(64 << 10);
                loop {
                    {
                        let mut buffer = thread.buffer.lock().unwrap_or_else(|p| p.into_inner());
                        if buffer.len() < WAKE {
                            buffer = thread
                                .ready
                                .wait_timeout(buffer, PERIOD)
                                .map(|(b, _)| b)
                                .unwrap_or_else(|p| p.into_inner().0);
                        }
                        if buffer.is_empty() {
                            thread.drained.notify_all();
                            continue;
                        }
                        std::mem::swap(&mut *buffer, &mut taken);
                    }
                    let _ = out.write_all(&taken);
                    let _ = out.flush();
                    taken.clear();
                }
            })?;
        Ok(Batched { shared })
    }

    /// Appends one line (or any bytes); drops it when too much waits.
    pub(crate) fn append(&self, line: &[u8]) {
        let mut buffer = self.shared.buffer.lock().unwrap_or_else(|p| p.into_inner());
        if buffer.len() + line.len() > LIMIT {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let before = buffer.len();
        buffer.extend_from_slice(line);
        let wake = before < WAKE && buffer.len() >= WAKE;
        drop(buffer);
        if wake {
            self.shared.ready.notify_one();
        }
    }

    /// Lines dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Waits up to `timeout` for everything buffered to be written.
    pub(crate) fn flush(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        self.shared.ready.notify_one();
        let mut buffer = self.shared.buffer.lock().unwrap_or_else(|p| p.into_inner());
        while !buffer.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            buffer = self
                .shared
                .drained
                .wait_timeout(buffer, left)
                .map(|(b, _)| b)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        // The last chunk was taken: give the thread a moment to write it.
        drop(buffer);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What the subscriber formats one event into.
pub(crate) struct BatchedLine {
    batched: Batched,
    line: Vec<u8>,
}

impl Write for BatchedLine {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for BatchedLine {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.batched.append(&self.line);
        }
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = BatchedLine;
    fn make_writer(&'a self) -> BatchedLine {
        BatchedLine {
            batched: self.clone(),
            line: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_whole_and_in_order() {
        let sink = Sink::default();
        let batched = Batched::start("test", Box::new(sink.clone())).unwrap();
        for i in 0..1000 {
            batched.append(format!("line {i}\n").as_bytes());
        }
        batched.flush(Duration::from_secs(5));
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999], "line 999");
        assert_eq!(batched.dropped(), 0);
    }

    #[test]
    fn too_much_waiting_is_dropped_and_counted() {
        struct Stuck;
        impl Write for Stuck {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_secs(3600));
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let batched = Batched::start("stuck", Box::new(Stuck)).unwrap();
        let line = vec![b'x'; 64 << 10];
        for _ in 0..200 {
            batched.append(&line);
        }
        assert!(batched.dropped() >= 200 - (2 * LIMIT / line.len()) as u64);
    }
}
