//! cluster-glue's meatclient: confirm that a node fenced by the meatware device was reset by hand.

fn main() {
    eprintln!("meatclient: not built yet");
    std::process::exit(1);
}
