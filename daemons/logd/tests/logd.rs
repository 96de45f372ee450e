//! logd as a real process in a temporary node: what ha_logger and other
//! clients send arrives in the files with the sender's entity and pid,
//! concurrent clients lose nothing, a flooding client loses only its own
//! excess and the loss is reported, a second instance is refused, SIGTERM
//! writes everything out, SIGHUP reopens files and rereads logd.cf, and the
//! Heartbeat command line (-s, -k, -c) behaves as ha_logd's.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use nix::sys::signal::Signal;

#[test]
fn ha_logger_message_appears_with_its_tag_and_pid() {
    let node = Node::new("ha-logger");
    node.standard_cf("");
    let _logd = Logd::start(&node);

    let (pid, out) = node.ha_logger(&["-t", "IPaddr2", "ERROR: cannot add address"], None);
    assert!(out.status.success(), "{out:?}");
    let (dbg_pid, out) = node.ha_logger(&["-D", "ha-debug", "-t", "IPaddr2", "detail"], None);
    assert!(out.status.success(), "{out:?}");
    let (plain_pid, out) = node.ha_logger(&["untagged"], None);
    assert!(out.status.success(), "{out:?}");

    wait_until("the untagged line", || {
        node.read("ha-log").contains("untagged")
    });
    let log = node.read("ha-log");
    // Heartbeat's layout, without a priority word (ha_logger's callers put
    // their own level into the text).
    let line = lines_of(&log, "IPaddr2", pid);
    assert_eq!(line.len(), 1, "{log}");
    assert!(
        line[0].ends_with(&format!(
            " {} IPaddr2: [{pid}]: ERROR: cannot add address",
            nodename()
        )),
        "{log}"
    );
    assert_eq!(messages_of(&log, "cluster", plain_pid), ["untagged"]);
    // -D ha-debug: the debug file only.
    assert!(!log.contains("detail"), "{log}");
    wait_until("the debug line", || {
        node.read("ha-debug").contains("detail")
    });
    let dbg = node.read("ha-debug");
    assert_eq!(messages_of(&dbg, "IPaddr2", dbg_pid), ["detail"]);
    assert_eq!(
        messages_of(&dbg, "IPaddr2", pid),
        ["ERROR: cannot add address"]
    );
}

#[test]
fn ha_logger_logs_each_argument_and_each_stdin_line() {
    let node = Node::new("stdin");
    node.standard_cf("");
    let _logd = Logd::start(&node);
    let (pid, out) = node.ha_logger(&["-t", "args", "one", "two words"], None);
    assert!(out.status.success(), "{out:?}");
    let long = "y".repeat(2100);
    let input = format!("first line\n\nthird line\n{long}\nno newline at end");
    let (spid, out) = node.ha_logger(&["-t", "stdin"], Some(&input));
    assert!(out.status.success(), "{out:?}");
    wait_until("the stdin lines", || {
        node.read("ha-log").contains("no newline at end")
    });
    let log = node.read("ha-log");
    assert_eq!(messages_of(&log, "args", pid), ["one", "two words"]);
    let long_pieces = [&long[..1023], &long[1023..2046], &long[2046..]];
    let mut expected = vec!["first line", "", "third line"];
    expected.extend(long_pieces);
    expected.push("no newline at end");
    assert_eq!(messages_of(&log, "stdin", spid), expected);
}

#[test]
fn five_concurrent_clients_lose_nothing() {
    const CLIENTS: usize = 5;
    const EACH: usize = 1000;
    let node = Node::new("concurrent");
    node.standard_cf("sendqlen 100000\nrecvqlen 100000\n");
    let logd = Logd::start(&node);
    // Five real ha_logger processes, each fed 1000 lines at once.
    let mut children = Vec::new();
    for c in 0..CLIENTS {
        let mut child = node
            .env(&mut Command::new(ha_logger_bin()))
            .args(["-t", &format!("client{c}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ha_logger");
        let mut stdin = child.stdin.take().expect("stdin");
        let feeder = std::thread::spawn(move || {
            let text: String = (0..EACH).map(|i| format!("message {i}\n")).collect();
            stdin.write_all(text.as_bytes()).expect("feed");
        });
        children.push((c, child, feeder));
    }
    let mut pids = BTreeMap::new();
    for (c, child, feeder) in children {
        feeder.join().expect("feeder");
        let pid = child.id();
        let out = wait_output(child);
        assert!(out.status.success(), "client{c}: {out:?}");
        pids.insert(c, pid);
    }
    let expected: Vec<String> = (0..EACH).map(|i| format!("message {i}")).collect();
    wait_until("5000 lines", || {
        let log = node.read("ha-log");
        pids.iter()
            .all(|(c, pid)| lines_of(&log, &format!("client{c}"), *pid).len() >= EACH)
    });
    let log = node.read("ha-log");
    for (c, pid) in &pids {
        assert_lines(
            &messages_of(&log, &format!("client{c}"), *pid),
            &expected,
            &format!("client{c}"),
        );
    }
    let s = stats(&mut node.client());
    assert_eq!(s.dropped, 0);
    assert_eq!(s.received, (CLIENTS * EACH) as u64);
    assert!(logd.stderr().is_empty() || !logd.stderr().contains("dropped"));
}

#[test]
fn a_flooding_client_loses_its_excess_and_a_polite_one_loses_nothing() {
    const FLOOD: usize = 20_000;
    const POLITE: usize = 200;
    let node = Node::new("flood");
    node.standard_cf("sendqlen 1000\nrecvqlen 5\n");
    let _logd = Logd::start(&node);
    let me = std::process::id();

    let mut flooder = node.client();
    let flood = std::thread::spawn(move || {
        for i in 0..FLOOD {
            flooder
                .send(&logging::LogdRequest::Log(record("flood", format!("f{i}"))))
                .expect("flood send");
        }
        flooder.flush().expect("flood flush");
        // Dropping the client disconnects it: its drops are reported then.
    });
    let mut polite = node.client();
    for i in 0..POLITE {
        polite
            .send(&logging::LogdRequest::Log(record(
                "polite",
                format!("p{i}"),
            )))
            .expect("polite send");
        // Wait until logd has taken it before sending the next.
        stats(&mut polite);
    }
    flood.join().expect("flooder");

    // Every flood record is either written or counted in a drop line
    // (reports come when the flooder disconnects, and every few seconds
    // while a flood lasts).
    let flood_lines = |log: &str| messages_of(log, "flood", me).len();
    wait_until("every record written or reported", || {
        let log = node.read("ha-log");
        flood_lines(&log) + reported_drops(&log, me) == FLOOD
            && messages_of(&log, "polite", me).len() >= POLITE
    });
    let log = node.read("ha-log");
    let reported = reported_drops(&log, me);
    assert!(
        reported > 0,
        "a tiny per-client limit must drop some of a flood"
    );
    let expected: Vec<String> = (0..POLITE).map(|i| format!("info: p{i}")).collect();
    assert_lines(&messages_of(&log, "polite", me), &expected, "polite client");
    let s = stats(&mut polite);
    assert_eq!(s.dropped, reported as u64);
    assert_eq!(s.received, (FLOOD + POLITE) as u64);
}

/// The sum of the counts in logd's drop lines; panics on a drop line that
/// names another client than `flood[pid]`.
fn reported_drops(log: &str, pid: u32) -> usize {
    let prefix = "WARN: logd: dropped ";
    let suffix = format!(" messages from client flood[{pid}] (client queue full)");
    log.lines()
        .filter(|l| l.contains(prefix))
        .map(|l| {
            let (_, tail) = l.split_once(prefix).unwrap_or_default();
            let count = tail
                .strip_suffix(suffix.as_str())
                .unwrap_or_else(|| panic!("drop line {l:?} names the wrong client"));
            count.parse::<usize>().expect("a count")
        })
        .sum()
}

#[test]
fn a_second_instance_is_refused_and_the_first_keeps_running() {
    let node = Node::new("second");
    node.standard_cf("");
    let logd = Logd::start(&node);
    let out = node.logd_output(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "already running as pid {} (pid file {} is locked)",
            logd.pid(),
            path_str(&node.pidfile())
        )),
        "{err}"
    );
    // The first one is untouched and still serves.
    stats(&mut node.client());
    assert_eq!(
        std::fs::read_to_string(node.pidfile())
            .expect("pid file")
            .trim(),
        logd.pid().to_string()
    );
}

#[test]
fn sigterm_writes_out_everything_and_exits_zero() {
    const N: usize = 20_000;
    let node = Node::new("sigterm");
    node.standard_cf("sendqlen 100000\nrecvqlen 100000\n");
    let mut logd = Logd::start(&node);
    let mut c = node.client();
    for i in 0..N {
        c.send(&logging::LogdRequest::Log(record("burst", format!("b{i}"))))
            .expect("send");
    }
    c.flush().expect("flush");
    // No round trip: some records are still unread or queued in logd.
    logd.signal(Signal::SIGTERM);
    let status = logd.wait();
    assert_eq!(status.code(), Some(0), "{}", logd.stderr());
    let log = node.read("ha-log");
    let expected: Vec<String> = (0..N).map(|i| format!("info: b{i}")).collect();
    assert_lines(
        &messages_of(&log, "burst", std::process::id()),
        &expected,
        "records sent before SIGTERM",
    );
    assert!(log.contains("info: SIGTERM received"), "{log}");
    assert!(!node.socket().exists(), "socket removed");
    assert!(!node.pidfile().exists(), "pid file removed");
}

#[test]
fn sighup_reopens_a_rotated_file_and_rereads_logd_cf() {
    let node = Node::new("sighup");
    node.standard_cf("");
    let logd = Logd::start(&node);
    let say = |text: &str| {
        let (_, out) = node.ha_logger(&["-t", "hup", text], None);
        assert!(out.status.success(), "{out:?}");
    };
    say("before rotation");
    wait_until("first line", || {
        node.read("ha-log").contains("before rotation")
    });

    std::fs::rename(node.log("ha-log"), node.log("ha-log.1")).expect("rotate");
    logd.signal(Signal::SIGHUP);
    say("after rotation");
    wait_until("line in the new file", || {
        node.read("ha-log").contains("after rotation")
    });
    assert!(!node.read("ha-log.1").contains("after rotation"));
    // logd's own messages come from its logger thread, in their own time.
    wait_until("logd's SIGHUP message in the new file", || {
        node.read("ha-log").contains("info: SIGHUP received")
    });

    // A new logfile in logd.cf takes effect on SIGHUP.
    node.write_cf(&format!(
        "logfile {}\nlogfacility none\n",
        path_str(&node.log("other-log"))
    ));
    logd.signal(Signal::SIGHUP);
    say("to the other file");
    wait_until("line in the other file", || {
        node.read("other-log").contains("to the other file")
    });
    assert!(!node.read("ha-log").contains("to the other file"));

    // A broken logd.cf is reported and the previous settings stay.
    node.write_cf("logfacility none\nbogus directive\n");
    logd.signal(Signal::SIGHUP);
    say("still the other file");
    wait_until("line after the bad reload", || {
        node.read("other-log").contains("still the other file")
    });
    wait_until("the errors about logd.cf", || {
        let log = node.read("other-log");
        log.contains("logd.cf:2: unknown directive \"bogus\"")
            && log.contains("is incorrect; keeping the previous configuration")
    });
}

#[test]
fn a_bad_logd_cf_is_reported_with_file_and_line_and_exits_6() {
    let node = Node::new("badcf");
    let cf = node.conf().join("bad.cf");
    std::fs::write(&cf, "logfacility none\nlogfile\nwhatever 1\n").expect("write");
    let out = node.logd_output(&["-c", &path_str(&cf)]);
    assert_eq!(out.status.code(), Some(6));
    let err = String::from_utf8_lossy(&out.stderr);
    let p = path_str(&cf);
    assert!(
        err.contains(&format!("{p}:2: logfile needs a value")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{p}:3: unknown directive \"whatever\"")),
        "{err}"
    );
    assert!(
        err.contains(&format!("config file [{p}] is incorrect.")),
        "{err}"
    );
    assert!(!node.pidfile().exists() && !node.socket().exists());

    let missing = node.logd_output(&["-c", "/nonexistent/logd.cf"]);
    assert_eq!(missing.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/logd.cf: cannot read"));
}

#[test]
fn status_and_stop_follow_ha_logd() {
    let node = Node::new("status");
    node.standard_cf("");
    let out = node.logd_output(&["-s"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "logging daemon is stopped.\n"
    );
    let out = node.logd_output(&["-k"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("logd already stopped."));

    let mut logd = Logd::start(&node);
    let out = node.logd_output(&["-s"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("logging daemon is running [pid = {}].\n", logd.pid())
    );
    let out = node.logd_output(&["-k"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("Pid {} exited", logd.pid())));
    assert_eq!(logd.wait().code(), Some(0));
    assert_eq!(node.logd_output(&["-s"]).status.code(), Some(3));
}

#[test]
fn usage_errors_exit_1() {
    let node = Node::new("usage");
    for args in [&["-x"][..], &["-h"][..], &["-c"][..]] {
        let out = node.logd_output(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    }
}
