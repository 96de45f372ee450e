//! Pacemaker's stonith_admin over stonithapi.

fn main() {
    eprintln!("stonith_admin: not built yet");
    std::process::exit(1);
}
