//! Runtime metrics: the process (the standard `process_*` names of
//! Prometheus's client libraries, read from `/proc`) and the tokio runtime
//! serving requests (what tokio's stable metrics API gives). Refreshed
//! when `/metrics` is scraped and before each push.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

/// Resident memory, bytes.
pub const PROCESS_RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
/// Virtual memory, bytes.
pub const PROCESS_VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
/// User and system CPU time, whole seconds (the `metrics` facade's
/// counters are integers).
pub const PROCESS_CPU: &str = "process_cpu_seconds_total";
/// Open file descriptors.
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
/// The open-file limit.
pub const PROCESS_MAX_FDS: &str = "process_max_fds";
/// OS threads.
pub const PROCESS_THREADS: &str = "process_threads";
/// Start time, seconds since the Unix epoch.
pub const PROCESS_START_TIME: &str = "process_start_time_seconds";
/// Tokio worker threads.
pub const TOKIO_WORKERS: &str = "tokio_workers";
/// Tasks alive in the runtime.
pub const TOKIO_ALIVE_TASKS: &str = "tokio_alive_tasks";
/// Tasks waiting in the runtime's global queue.
pub const TOKIO_GLOBAL_QUEUE_DEPTH: &str = "tokio_global_queue_depth";
/// Time the workers spent busy, seconds (all workers; a gauge, so the
/// fraction of a second is kept).
pub const TOKIO_BUSY: &str = "tokio_busy_seconds";
/// Share of worker time spent busy since the previous refresh (0 to 1).
pub const TOKIO_BUSY_RATIO: &str = "tokio_busy_ratio";
/// Times workers parked (went idle).
pub const TOKIO_PARKS: &str = "tokio_worker_parks_total";
/// Log lines dropped by file outputs (see `kit_runtime::log`).
const LOG_LINES_DROPPED: &str = crate::log::LOG_LINES_DROPPED;

/// The runtime whose metrics are reported (the first server's).
static RUNTIME: OnceLock<Handle> = OnceLock::new();
/// The previous refresh: when, and the workers' busy time then.
static LAST: Mutex<Option<(Instant, Duration)>> = Mutex::new(None);

/// Reports the current tokio runtime from now on, if there is one.
pub(crate) fn watch_current_runtime() {
    if let Ok(handle) = Handle::try_current() {
        let _ = RUNTIME.set(handle);
    }
}

/// Updates every runtime metric.
pub(crate) fn refresh() {
    process();
    if let Some(handle) = RUNTIME.get() {
        tokio(handle);
    }
    metrics::counter!(LOG_LINES_DROPPED, "output" => "stream")
        .absolute(crate::log::lines_dropped());
}

fn process() {
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name, which is in parentheses and may
        // hold spaces: state is field 3; utime 14, stime 15, num_threads
        // 20, starttime 22, vsize 23, rss 24 (pages).
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let num = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok());
            let ticks = clock_ticks();
            if let (Some(u), Some(s)) = (num(14), num(15)) {
                metrics::counter!(PROCESS_CPU).absolute(((u + s) / ticks) as u64);
            }
            if let Some(t) = num(20) {
                metrics::gauge!(PROCESS_THREADS).set(t);
            }
            if let Some(v) = num(23) {
                metrics::gauge!(PROCESS_VIRTUAL_MEMORY).set(v);
            }
            if let Some(rss) = num(24) {
                metrics::gauge!(PROCESS_RESIDENT_MEMORY).set(rss * page_size());
            }
            if let (Some(start), Some(boot)) = (num(22), boot_time()) {
                metrics::gauge!(PROCESS_START_TIME).set(boot + start / ticks);
            }
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!(PROCESS_OPEN_FDS).set(fds.count() as f64);
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        metrics::gauge!(PROCESS_MAX_FDS).set(limit.rlim_cur as f64);
    }
}

fn tokio(handle: &Handle) {
    let m = handle.metrics();
    let workers = m.num_workers();
    metrics::gauge!(TOKIO_WORKERS).set(workers as f64);
    metrics::gauge!(TOKIO_ALIVE_TASKS).set(m.num_alive_tasks() as f64);
    metrics::gauge!(TOKIO_GLOBAL_QUEUE_DEPTH).set(m.global_queue_depth() as f64);
    let busy: Duration = (0..workers).map(|w| m.worker_total_busy_duration(w)).sum();
    let parks: u64 = (0..workers).map(|w| m.worker_park_count(w)).sum();
    metrics::counter!(TOKIO_PARKS).absolute(parks);
    metrics::gauge!(TOKIO_BUSY).set(busy.as_secs_f64());
    let now = Instant::now();
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((then, busy_then)) = *last {
        let wall = now.duration_since(then).as_secs_f64() * workers.max(1) as f64;
        if wall > 0.01 {
            let ratio = busy.saturating_sub(busy_then).as_secs_f64() / wall;
            metrics::gauge!(TOKIO_BUSY_RATIO).set(ratio.clamp(0.0, 1.0));
        }
    }
    *last = Some((now, busy));
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn page_size() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as f64
    } else {
        4096.0
    }
}

fn boot_time() -> Option<f64> {
    static BOOT: OnceLock<Option<f64>> = OnceLock::new();
    *BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    })
}

pub(crate) fn describe() {
    use metrics::{describe_counter, describe_gauge, Unit};
    describe_gauge!(
        PROCESS_RESIDENT_MEMORY,
        Unit::Bytes,
        "Resident memory size in bytes."
    );
    describe_gauge!(
        PROCESS_VIRTUAL_MEMORY,
        Unit::Bytes,
        "Virtual memory size in bytes."
    );
    describe_counter!(
        PROCESS_CPU,
        Unit::Seconds,
        "Total user and system CPU time spent in seconds."
    );
    describe_gauge!(PROCESS_OPEN_FDS, "Number of open file descriptors.");
    describe_gauge!(PROCESS_MAX_FDS, "Maximum number of open file descriptors.");
    describe_gauge!(PROCESS_THREADS, "Number of OS threads in the process.");
    describe_gauge!(
        PROCESS_START_TIME,
        Unit::Seconds,
        "Start time of the process since unix epoch in seconds."
    );
    describe_gauge!(TOKIO_WORKERS, "Tokio worker threads.");
    describe_gauge!(TOKIO_ALIVE_TASKS, "Tasks alive in the tokio runtime.");
    describe_gauge!(
        TOKIO_GLOBAL_QUEUE_DEPTH,
        "Tasks waiting in the tokio runtime's global queue."
    );
    describe_gauge!(
        TOKIO_BUSY,
        Unit::Seconds,
        "Time tokio's workers spent busy, all workers."
    );
    describe_gauge!(
        TOKIO_BUSY_RATIO,
        "Share of tokio worker time spent busy since the previous refresh."
    );
    describe_counter!(TOKIO_PARKS, "Times tokio workers parked.");
    describe_counter!(
        LOG_LINES_DROPPED,
        "Log lines dropped because their output could not keep up or be reached."
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    #[test]
    fn process_metrics_are_read_from_proc() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, process);
        let values: Vec<(String, f64)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(k, _, _, v)| match v {
                DebugValue::Gauge(g) => Some((k.key().name().to_string(), g.into_inner())),
                _ => None,
            })
            .collect();
        let get = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
        assert!(get(PROCESS_RESIDENT_MEMORY).unwrap() > 1e6);
        assert!(get(PROCESS_OPEN_FDS).unwrap() >= 3.0);
        assert!(get(PROCESS_THREADS).unwrap() >= 1.0);
        let start = get(PROCESS_START_TIME).unwrap();
        let now = super::super::push::unix_seconds() as f64;
        assert!(
            start <= now + 1.0 && start > now - 86_400.0,
            "{start} vs {now}"
        );
    }
}
