//! ha_logger: Heartbeat's command for shell scripts (resource agents,
//! stonith plugins) to put a message into the cluster log through logd:
//! `ha_logger [-D ha-log|ha-debug] [-t tag] [message ...]`. Each argument
//! is one message (cut into 1023-byte pieces, as Heartbeat's did); with no
//! argument each line of standard input is one.
//!
//! Like Heartbeat's, it logs only through logd: when logd is not running it
//! says so on stderr and exits 1 without logging anything, because its
//! callers (`ocf_log`, `ha_log.sh`) test the exit status and then log by
//! other means themselves; logging here as well would write every message
//! twice.

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ipc::BlockingClient;
use logging::{logd_proto, LogRecord, LogdProtocol, LogdRequest, Priority, Timestamp};

const EXIT_OK: u8 = 0;
const EXIT_FAIL: u8 = 1;

/// Longest piece of a message sent as one record (Heartbeat's BUFSIZE - 1).
const PIECE: usize = 1023;

/// How long logd may take to accept the messages.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(
    name = "ha_logger",
    about = "Log a message to files/syslog through the HA logging daemon",
    disable_version_flag = true
)]
struct Args {
    /// Mark every line in the log with this tag (default: the cluster entity).
    #[arg(short = 't', value_name = "tag")]
    tag: Option<String>,
    /// ha-log: to the log file and the debug file; ha-debug: to the debug
    /// file only.
    #[arg(
        short = 'D',
        value_name = "ha-log|ha-debug",
        default_value = "ha-log",
        value_parser = ["ha-log", "ha-debug"]
    )]
    logtype: String,
    /// The messages, one log line each; none: read lines from stdin.
    message: Vec<String>,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // Usage errors and -h exit 1, as Heartbeat's ha_logger does.
            let _ = e.print();
            return ExitCode::from(EXIT_FAIL);
        }
    };
    let priority = if args.logtype == "ha-debug" {
        Priority::Debug
    } else {
        Priority::Info
    };
    let entity = args
        .tag
        .clone()
        .unwrap_or_else(|| logging::DEFAULT_ENTITY.to_owned());
    let path = logd_proto::socket_path();
    let mut logd = match BlockingClient::<LogdProtocol>::connect(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ha_logger: logd is not running ({e})");
            return ExitCode::from(EXIT_FAIL);
        }
    };
    logd.set_timeout(Some(TIMEOUT));
    logd.set_max_frame(logd_proto::MAX_FRAME);
    let mut sender = Sender {
        logd,
        entity,
        priority,
    };
    let result = if args.message.is_empty() {
        sender.stdin_lines()
    } else {
        args.message.iter().try_for_each(|m| sender.message(m))
    }
    // The answer to a call proves logd has taken every record sent before.
    .and_then(|()| sender.confirm());
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("ha_logger: {e}");
            ExitCode::from(EXIT_FAIL)
        }
    }
}

struct Sender {
    logd: BlockingClient<LogdProtocol>,
    entity: String,
    priority: Priority,
}

impl Sender {
    /// Sends one message, in pieces of at most [`PIECE`] bytes.
    fn message(&mut self, text: &str) -> Result<(), String> {
        for piece in pieces(text, PIECE) {
            let mut record = LogRecord {
                entity: self.entity.clone(),
                pid: std::process::id(),
                priority: self.priority,
                timestamp: Timestamp::now(),
                message: piece.to_owned(),
                facility: None,
                // Callers put their own level word into the text.
                show_priority: false,
            };
            logd_proto::fit(&mut record);
            self.logd
                .send(&LogdRequest::Log(record))
                .map_err(|e| format!("cannot log to logd: {e}"))?;
        }
        Ok(())
    }

    /// One message per line of stdin, each sent at once (stdin may be a
    /// pipe that stays open).
    fn stdin_lines(&mut self) -> Result<(), String> {
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    self.message(&String::from_utf8_lossy(&line))?;
                    self.logd
                        .flush()
                        .map_err(|e| format!("cannot log to logd: {e}"))?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cannot read standard input: {e}")),
            }
        }
    }

    fn confirm(&mut self) -> Result<(), String> {
        self.logd
            .call(&LogdRequest::Stats)
            .map(|_| ())
            .map_err(|e| format!("logd did not confirm the messages: {e}"))
    }
}

/// `text` cut into pieces of at most `max` bytes at character boundaries;
/// an empty text is one empty piece.
fn pieces(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut end = max;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (head, tail) = rest.split_at(end);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_respect_the_limit_and_characters() {
        assert_eq!(pieces("", 4), [""]);
        assert_eq!(pieces("abcd", 4), ["abcd"]);
        assert_eq!(pieces("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        // "é" is two bytes: never split inside it.
        assert_eq!(pieces("aéé", 2), ["a", "é", "é"]);
        let long = "x".repeat(2500);
        let p = pieces(&long, PIECE);
        assert_eq!(
            p.iter().map(|s| s.len()).collect::<Vec<_>>(),
            [1023, 1023, 454]
        );
    }

    #[test]
    fn options_mirror_heartbeat() {
        let a = Args::try_parse_from(["ha_logger", "-t", "IPaddr", "-D", "ha-debug", "a b", "c"])
            .expect("parse");
        assert_eq!(a.tag.as_deref(), Some("IPaddr"));
        assert_eq!(a.logtype, "ha-debug");
        assert_eq!(a.message, ["a b", "c"]);
        let a = Args::try_parse_from(["ha_logger"]).expect("parse");
        assert_eq!(a.logtype, "ha-log");
        assert!(a.message.is_empty());
        assert!(Args::try_parse_from(["ha_logger", "-D", "ha-info", "x"]).is_err());
    }
}
