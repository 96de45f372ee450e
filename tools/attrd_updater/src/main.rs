//! Pacemaker's attrd_updater over attrdapi.

fn main() {
    eprintln!("attrd_updater: not built yet");
    std::process::exit(1);
}
