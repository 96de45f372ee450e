//! The `watchdog DEVICE` of ha.cf: a kernel watchdog (softdog or a hardware
//! timer) that resets the machine when heartbeat's main loop stops running.
//!
//! As Heartbeat 3 does (heartbeat.c `hb_init_watchdog`, `hb_tickle_watchdog`,
//! `hb_close_watchdog`): the device is opened write-only at start, its
//! timeout is set to deadtime + 10 ms rounded up to whole seconds
//! (`WDIOC_SETTIMEOUT`), a byte is written to keep it from firing, and at a
//! controlled exit the magic character `V` is written before closing, so a
//! heartbeat that stops normally does not reset the machine. A heartbeat that
//! is killed or hangs leaves it armed: the machine resets about when the
//! peers declare the node dead.
//!
//! Differences, on purpose: a device that cannot be opened stops heartbeat
//! from starting (Heartbeat logs "Cannot open watchdog device" and runs
//! unprotected, which an administrator who asked for a watchdog would not
//! expect). Heartbeat feeds the watchdog when its own status heartbeat comes
//! back from the network, so a node whose media do not loop its packets back
//! (ucast to peers only) is never fed; here the main loop feeds it on a timer
//! ([`feed_period`]), which is what the watchdog is meant to watch.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The timeout Heartbeat asks the device for: deadtime + 10 ms, rounded up
/// to whole seconds (the unit of `WDIOC_SETTIMEOUT`), at least 1 s.
pub fn timeout_for(deadtime: Duration) -> Duration {
    let ms = deadtime.as_millis().saturating_add(10);
    let secs = ms.div_ceil(1000).max(1);
    Duration::from_secs(u64::try_from(secs).unwrap_or(u64::MAX))
}

/// How often the main loop feeds a watchdog that fires after `timeout`:
/// every `keepalive` (Heartbeat's own cadence) but at least four times per
/// timeout, so the machine is reset only after the loop has been stuck for
/// three quarters of the timeout or more, never because one feed was a few
/// milliseconds late. The write is one byte, so a fast keepalive costs
/// nothing worth saving.
pub fn feed_period(keepalive: Duration, timeout: Duration) -> Duration {
    keepalive.min(timeout / 4).max(Duration::from_millis(1))
}

nix::ioctl_readwrite!(wdioc_settimeout, b'W', 6, libc::c_int);
nix::ioctl_read!(wdioc_gettimeout, b'W', 7, libc::c_int);

/// An open watchdog device.
#[derive(Debug)]
pub struct Watchdog {
    file: Option<File>,
    path: PathBuf,
    period: Duration,
    next: Instant,
    /// Feeds written, for the log at shutdown.
    feeds: u64,
}

impl Watchdog {
    /// Opens `path` write-only, non-blocking (a FIFO standing in for a
    /// device must not block the master) and close-on-exec (children must
    /// not hold it). Called before the master daemonises, so a refusal
    /// reaches the administrator's terminal; [`Watchdog::arm`] follows once
    /// logging runs.
    pub fn open(path: &Path) -> Result<Watchdog, String> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| format!("Cannot open watchdog device: {}: {e}", path.display()))?;
        Ok(Watchdog {
            file: Some(file),
            path: path.to_path_buf(),
            period: Duration::from_secs(1),
            next: Instant::now(),
            feeds: 0,
        })
    }

    /// Sets the device's timeout from `deadtime`, chooses the feed period
    /// and feeds it once.
    pub fn arm(&mut self, keepalive: Duration, deadtime: Duration, now: Instant) {
        let Some(file) = self.file.as_ref() else {
            return;
        };
        log::info!("Using watchdog device: {}", self.path.display());
        let wanted = timeout_for(deadtime);
        let secs = libc::c_int::try_from(wanted.as_secs()).unwrap_or(libc::c_int::MAX);
        let mut set = secs;
        // SAFETY: WDIOC_SETTIMEOUT reads and writes one int.
        let timeout = match unsafe { wdioc_settimeout(file.as_raw_fd(), &mut set) } {
            Ok(_) => {
                log::debug!("Set watchdog timer to {secs} seconds.");
                // The driver may round to what it supports and says so.
                Duration::from_secs(u64::try_from(set).unwrap_or(0).max(1))
            }
            Err(e) => {
                log::warn!("WDIOC_SETTIMEOUT: Failed to set watchdog timer to {secs} seconds: {e}");
                let mut cur: libc::c_int = 0;
                // SAFETY: WDIOC_GETTIMEOUT writes one int.
                match unsafe { wdioc_gettimeout(file.as_raw_fd(), &mut cur) } {
                    Ok(_) if cur > 0 => {
                        log::info!("watchdog timeout stays at {cur} seconds");
                        Duration::from_secs(u64::try_from(cur).unwrap_or(1))
                    }
                    // Not a watchdog driver (a test's plain file): feed as if
                    // the timeout had been set.
                    _ => wanted,
                }
            }
        };
        self.period = feed_period(keepalive, timeout);
        log::debug!(
            "feeding the watchdog every {:?} (timeout {timeout:?})",
            self.period
        );
        self.next = now;
        self.feed_if_due(now);
    }

    /// When the main loop must call [`Watchdog::feed_if_due`] next; `None`
    /// once the device was closed after a write failure.
    pub fn next_due(&self) -> Option<Instant> {
        self.file.as_ref().map(|_| self.next)
    }

    /// Writes one byte (Heartbeat writes a NUL) when a feed is due. A write
    /// error other than a full FIFO closes the device, as Heartbeat does.
    pub fn feed_if_due(&mut self, now: Instant) {
        if now < self.next {
            return;
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        match file.write(&[0]) {
            Ok(1) => self.feeds += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(n) => format!("wrote {n} bytes"),
                };
                log::error!(
                    "Watchdog write failure: closing {}!: {why}",
                    self.path.display()
                );
                self.close();
                return;
            }
        }
        // A loop that woke up late feeds at once and counts from then.
        self.next = now + self.period;
    }

    /// Disarms and closes the device: writes the magic close character `V`
    /// so the kernel stops the timer, then closes it.
    pub fn close(&mut self) {
        let Some(mut file) = self.file.take() else {
            return;
        };
        match file.write(b"V") {
            Ok(1) => log::debug!("Successful watchdog 'V' write"),
            Ok(n) => log::error!(
                "Watchdog write magic character failure: closing {}!: wrote {n} bytes",
                self.path.display()
            ),
            Err(e) => log::error!(
                "Watchdog write magic character failure: closing {}!: {e}",
                self.path.display()
            ),
        }
        drop(file);
        log::info!(
            "watchdog device {} closed after {} feeds",
            self.path.display(),
            self.feeds
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_follows_deadtime_as_heartbeat_sets_it() {
        let ms = Duration::from_millis;
        // deadtime + 10 ms, rounded up to whole seconds.
        for (deadtime, secs) in [
            (ms(500), 1),
            (ms(990), 1),
            (ms(991), 2),
            (ms(5000), 6),
            (ms(30_000), 31),
            (ms(0), 1),
        ] {
            assert_eq!(
                timeout_for(deadtime),
                Duration::from_secs(secs),
                "{deadtime:?}"
            );
        }
    }

    #[test]
    fn the_feed_period_is_keepalive_but_at_least_four_feeds_per_timeout() {
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        for (keepalive, timeout, period) in [
            (ms(100), s(1), ms(100)),
            (s(1), s(31), s(1)),
            (s(2), s(3), ms(750)),
            (s(10), s(1), ms(250)),
        ] {
            assert_eq!(
                feed_period(keepalive, timeout),
                period,
                "{keepalive:?} {timeout:?}"
            );
        }
    }

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("hb-watchdog-{}-{name}", std::process::id()))
    }

    #[test]
    fn a_file_standing_in_for_the_device_is_fed_on_time_and_closed_with_v() {
        let path = tmp("feed");
        std::fs::write(&path, b"").unwrap();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut w = Watchdog::open(&path).unwrap();
        assert!(
            std::fs::read(&path).unwrap().is_empty(),
            "not fed before arm"
        );
        w.arm(ms(100), ms(500), t0);
        assert_eq!(w.period, ms(100));
        assert_eq!(std::fs::read(&path).unwrap(), [0], "fed once at open");
        w.feed_if_due(t0 + ms(50));
        assert_eq!(std::fs::read(&path).unwrap().len(), 1, "not due yet");
        assert_eq!(w.next_due(), Some(t0 + ms(100)));
        w.feed_if_due(t0 + ms(350));
        assert_eq!(std::fs::read(&path).unwrap(), [0, 0]);
        assert_eq!(
            w.next_due(),
            Some(t0 + ms(450)),
            "counted from the late feed"
        );
        w.close();
        assert_eq!(std::fs::read(&path).unwrap(), b"\0\0V");
        assert_eq!(w.next_due(), None);
        w.feed_if_due(t0 + ms(1000));
        w.close();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"\0\0V",
            "nothing after close"
        );
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_missing_device_is_an_error_naming_the_path() {
        let path = tmp("missing-dir").join("watchdog");
        let err = Watchdog::open(&path).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "Cannot open watchdog device: {}: ",
                path.display()
            )),
            "{err}"
        );
    }
}
