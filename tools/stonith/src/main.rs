//! cluster-glue's stonith command: list, configure and run STONITH plugins directly.

fn main() {
    eprintln!("stonith: not built yet");
    std::process::exit(1);
}
