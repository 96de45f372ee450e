//! The node attribute daemon: node attributes with dampening, written to the CIB in batches, and link-status attributes.

fn main() {
    eprintln!("attrd: not built yet");
    std::process::exit(1);
}
