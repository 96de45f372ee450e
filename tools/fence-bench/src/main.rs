//! Issue 9's benchmark: fencing request-to-result latency.

fn main() {
    eprintln!("fence-bench: not built yet");
    std::process::exit(1);
}
