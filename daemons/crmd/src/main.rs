//! The cluster resource manager daemon: DC election, join, transition execution through lrmd and stonithd.

fn main() {
    eprintln!("crmd: not built yet");
    std::process::exit(1);
}
