//! The policy engine daemon: computes transition graphs for the DC's crmd and saves each input.

fn main() {
    eprintln!("pengine: not built yet");
    std::process::exit(1);
}
