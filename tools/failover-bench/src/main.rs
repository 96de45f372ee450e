//! Issue 10's benchmark: failover and start-up times, idle RSS and CPU of the daemons.

fn main() {
    eprintln!("failover-bench: not built yet");
    std::process::exit(1);
}
