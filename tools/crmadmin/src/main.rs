//! Pacemaker's crmadmin: ask the controllers who is DC and how they are.

fn main() {
    eprintln!("crmadmin: not built yet");
    std::process::exit(1);
}
