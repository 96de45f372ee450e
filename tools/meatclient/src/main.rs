//! cluster-glue's meatclient: an operator confirms that a node the
//! meatware device is fencing was reset by hand. The meatware device (in
//! stonithd or the stonith command) waits on the FIFO
//! `$MEATWARE_DIR/meatware.NODE` (default /var/run); this writes the
//! confirmation into it after asking the operator.
//!
//! Exit codes as cluster-glue's: 0 confirmed, 3 cancelled or usage, 4 no
//! device waiting for that node.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use fencing::exec::{meatware_reply, AgentDirs};

const USAGE: &str = "usage: meatclient -c node [-w]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut node = None;
    let mut wait = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-c" if i + 1 < args.len() => {
                node = Some(args[i + 1].clone());
                i += 1;
            }
            a if a.starts_with("-c") && a.len() > 2 => node = Some(a[2..].to_string()),
            "-w" => wait = true,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(3);
            }
        }
        i += 1;
    }
    let Some(node) = node.filter(|n| !n.is_empty() && !n.contains('/')) else {
        eprintln!("{USAGE}");
        return ExitCode::from(3);
    };
    let fifo = AgentDirs::from_env().meatware_fifo(&node);
    let mut waited = false;
    loop {
        match std::fs::symlink_metadata(&fifo) {
            Ok(m) if std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()) => break,
            Ok(_) => {
                eprintln!("Meatware_IPC failed: {}: not a FIFO", fifo.display());
                return ExitCode::from(4);
            }
            Err(e) if !wait => {
                eprintln!("Meatware_IPC failed: {}: {}", fifo.display(), plain(&e));
                return ExitCode::from(4);
            }
            Err(_) => {
                // -w: wait for the device to ask, showing that we wait.
                eprint!(".");
                waited = true;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    if waited {
        eprintln!();
    }
    println!();
    println!("WARNING!");
    println!();
    println!("Confirm only after {node} has really been power-cycled or shut");
    println!("down by hand. The cluster takes your word for it and will start");
    println!("{node}'s resources elsewhere: if {node} is still running, its data");
    println!("can be corrupted.");
    println!();
    print!("PROCEED? [yN] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    // Only a lowercase y confirms, as cluster-glue's client.
    if !answer.starts_with('y') {
        println!("Meatware_client: operation canceled.");
        return ExitCode::from(3);
    }
    // The device holds the FIFO open for reading: this open does not block.
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags_nonblock()
        .open(&fifo);
    match opened.and_then(|mut f| f.write_all(meatware_reply(&node).as_bytes())) {
        Ok(()) => {
            println!("Meatware_client: reset confirmed.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Meatware_IPC failed: {}: {}", fifo.display(), plain(&e));
            ExitCode::from(4)
        }
    }
}

/// The system's words for an error, without Rust's "(os error N)".
fn plain(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

trait NonBlocking {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlocking for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}
