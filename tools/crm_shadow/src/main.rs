//! crm_shadow: sandboxed copies of the CIB. `-c NAME` copies the
//! cluster's CIB to the shadow file (`clitools::shadow_file`), `-e NAME`
//! starts one empty; with `CIB_shadow=NAME` every tool (through
//! clitools) works on that file instead of the cluster; `-d` shows its
//! changes against the cluster's CIB, `-C NAME --force` uploads its
//! configuration (`-a`: the whole CIB), `-r` copies the cluster's CIB
//! again, `-D NAME --force` deletes it, `-p`/`-w`/`-F` show it, `-E` edits
//! it. Without `--batch`, creating or switching starts `$SHELL` with
//! `CIB_shadow` and a `shadow[NAME] # ` prompt, as Pacemaker's does.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use cib_xml::doc::{parse_cib, to_pcmk_pretty};
use cib_xml::ops::{Op, Request};
use cib_xml::{Element, Limits};
use clitools::{exit, CibSession};
use crm_shadow::{patch_lines, target, Command};

const USAGE: &str = "crm_shadow - work on a sandboxed copy of the cluster configuration

Usage: crm_shadow <query>|<command> [options]
Options:
 -?, --help                 This text
 -V, --verbose              Increase debug output

Queries:
 -w, --which                Indicate the active shadow copy
 -p, --display              Display the contents of the active shadow copy
 -E, --edit                 Edit the contents of the active shadow copy with $EDITOR
 -d, --diff                 Display the changes in the active shadow copy
 -F, --file                 Display the location of the active shadow copy file

Commands:
 -c, --create=NAME          Create the named shadow copy of the active cluster configuration
 -e, --create-empty=NAME    Create the named shadow copy with an empty configuration (see --validate-with)
 -C, --commit=NAME          Upload the contents of the named shadow copy to the cluster
 -D, --delete=NAME          Delete the named shadow copy
 -r, --reset=NAME           Recreate the named shadow copy from the active cluster configuration
 -s, --switch=NAME          Switch to the named shadow copy

Additional Options:
 -f, --force                Force the action to be performed
 -b, --batch                Don't spawn a new shell
 -a, --all                  Upload the entire CIB, including status, with --commit
 -v, --validate-with=SCHEMA Create an older configuration version
";

struct Options {
    command: Option<Command>,
    force: bool,
    batch: bool,
    all: bool,
    validate_with: Option<String>,
}

/// Pacemaker's option parsing: short options may be bundled, values may
/// follow the letter, the next word, or `=` for long options; the last
/// command given wins.
fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        command: None,
        force: false,
        batch: false,
        all: false,
        validate_with: None,
    };
    let mut i = 0;
    let long = |name: &str| -> Option<char> {
        Some(match name {
            "which" => 'w',
            "display" => 'p',
            "edit" => 'E',
            "diff" => 'd',
            "file" => 'F',
            "create" => 'c',
            "create-empty" => 'e',
            "commit" => 'C',
            "delete" => 'D',
            "reset" => 'r',
            "switch" => 's',
            "force" => 'f',
            "batch" => 'b',
            "all" => 'a',
            "validate-with" => 'v',
            "verbose" => 'V',
            "help" => '?',
            _ => return None,
        })
    };
    let takes_value = |c: char| matches!(c, 'c' | 'e' | 'C' | 'D' | 'r' | 's' | 'v');
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let mut opts: Vec<(char, Option<String>)> = Vec::new();
        if let Some(rest) = arg.strip_prefix("--") {
            let (name, inline) = match rest.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (rest, None),
            };
            let c = long(name).ok_or_else(|| format!("unrecognized option '--{name}'"))?;
            opts.push((c, inline));
        } else if let Some(rest) = arg.strip_prefix('-').filter(|r| !r.is_empty()) {
            let chars: Vec<char> = rest.chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                if takes_value(c) && j < chars.len() {
                    opts.push((c, Some(chars[j..].iter().collect())));
                    break;
                }
                opts.push((c, None));
            }
        } else {
            return Err(format!("non-option ARGV-elements: {arg}"));
        }
        for (c, inline) in opts {
            let value = if takes_value(c) {
                match inline {
                    Some(v) => Some(v),
                    None if i < args.len() => {
                        i += 1;
                        Some(args[i - 1].clone())
                    }
                    None => return Err(format!("option requires an argument -- '{c}'")),
                }
            } else {
                None
            };
            let v = value.unwrap_or_default();
            match c {
                'w' => o.command = Some(Command::Which),
                'p' => o.command = Some(Command::Display),
                'E' => o.command = Some(Command::Edit),
                'd' => o.command = Some(Command::Diff),
                'F' => o.command = Some(Command::File),
                'c' => o.command = Some(Command::Create(v)),
                'e' => o.command = Some(Command::CreateEmpty(v)),
                'C' => o.command = Some(Command::Commit(v)),
                'D' => o.command = Some(Command::Delete(v)),
                'r' => o.command = Some(Command::Reset(v)),
                's' => o.command = Some(Command::Switch(v)),
                'f' => o.force = true,
                'b' => o.batch = true,
                'a' => o.all = true,
                'v' => o.validate_with = Some(v),
                'V' => {}
                '?' => return Err(String::new()),
                other => return Err(format!("invalid option -- '{other}'")),
            }
        }
    }
    Ok(o)
}

fn say(text: &str) {
    // EPIPE is not an error.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(code)
}

fn prompt(name: &str) -> String {
    let short: String = name.chars().take(40).collect();
    format!("shadow[{short}] # ")
}

/// After creating or switching: a shell in the shadow, or what to paste.
fn setup(name: &str, batch: bool, switch: bool) -> ExitCode {
    say("Setting up shadow instance\n");
    let new_prompt = prompt(name);
    if std::env::var("PS1").is_ok_and(|p| p.eq_ignore_ascii_case(&new_prompt)) {
        return ExitCode::from(exit::OK);
    }
    if let (false, Some(shell)) = (batch, std::env::var_os("SHELL")) {
        say("Type Ctrl-D to exit the crm_shadow shell\n");
        let mut cmd = std::process::Command::new(&shell);
        if shell.to_string_lossy().contains("bash") {
            cmd.args(["--norc", "--noprofile"]);
        }
        let e = cmd.env("PS1", &new_prompt).env("CIB_shadow", name).exec();
        return fail(
            exit::ERROR,
            &format!("Could not start {}: {e}", shell.to_string_lossy()),
        );
    }
    if switch {
        say("To switch to the named shadow instance, paste the following into your shell:\n");
    } else {
        say("A new shadow instance was created.  To begin using it paste the following into your shell:\n");
    }
    say(&format!("  CIB_shadow={name} ; export CIB_shadow\n"));
    ExitCode::from(exit::OK)
}

fn teardown(name: &str) {
    let ours = prompt(name);
    if std::env::var("PS1").is_ok_and(|p| p.contains(&ours)) {
        say("Now type Ctrl-D to exit the crm_shadow shell\n");
    } else {
        say("Please remember to unset the CIB_shadow variable by pasting the following into your shell:\n  unset CIB_shadow\n");
    }
}

fn live() -> Result<CibSession, ExitCode> {
    CibSession::open_live(Duration::from_secs(30))
        .map_err(|e| fail(e.code, &format!("Could not connect to CIB: {}", e.message)))
}

fn write_shadow(file: &Path, cib: &Element) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            let _ =
                std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700));
        }
    }
    plumbing::fs::write_atomic(file, to_pcmk_pretty(cib).as_bytes(), 0o640)
}

fn read_shadow(file: &Path) -> Result<Element, ExitCode> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        fail(
            exit::NOSUCH,
            &format!("Could not read {}: {e}", file.display()),
        )
    })?;
    parse_cib(&text, &Limits::default())
        .map_err(|e| fail(exit::DATAERR, &format!("{}: {e}", file.display())))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() {
        eprint!("{USAGE}");
        return ExitCode::from(exit::USAGE);
    }
    let o = match parse(&argv) {
        Ok(o) => o,
        Err(m) if m.is_empty() => {
            say(USAGE);
            return ExitCode::from(exit::OK);
        }
        Err(m) => {
            eprintln!("crm_shadow: {m}");
            eprint!("{USAGE}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let active = std::env::var("CIB_shadow").ok().filter(|s| !s.is_empty());
    let Some(cmd) = o.command.clone() else {
        return fail(exit::NOSUCH, "No shadow instance provided");
    };
    if cmd == Command::Which {
        return match active {
            Some(a) => {
                say(&format!("{a}\n"));
                ExitCode::from(exit::OK)
            }
            None => fail(exit::NOSUCH, "No active shadow configuration defined"),
        };
    }
    let name = match target(&cmd, active.as_deref(), o.force) {
        Ok(n) => n,
        Err(r) => return fail(r.code, &r.message),
    };
    if matches!(
        cmd,
        Command::Commit(_) | Command::Delete(_) | Command::Reset(_) | Command::Create(_)
    ) {
        clitools::audit("crm_shadow");
    }
    let file = clitools::shadow_file(&name);
    if let Command::Delete(_) = cmd {
        if let Err(e) = std::fs::remove_file(&file) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("Could not remove shadow instance '{name}': {e}");
                teardown(&name);
                return ExitCode::from(exit::ERROR);
            }
        }
        teardown(&name);
        return ExitCode::from(exit::OK);
    }
    if cmd == Command::File {
        say(&format!("{}\n", file.display()));
        return ExitCode::from(exit::OK);
    }
    let exists = file.exists();
    let creates = matches!(cmd, Command::Create(_) | Command::CreateEmpty(_));
    if creates && exists && !o.force {
        return fail(
            exit::CANTCREAT,
            &format!(
                "A shadow instance '{name}' already exists.\n  To prevent accidental destruction of the cluster, the --force flag is required in order to proceed."
            ),
        );
    }
    if !creates && !exists {
        return fail(
            exit::NOSUCH,
            &format!("Could not access shadow instance '{name}': No such file or directory"),
        );
    }
    match cmd {
        Command::Create(_) | Command::Reset(_) | Command::CreateEmpty(_) => {
            let cib = if let Command::CreateEmpty(_) = cmd {
                let mut cib = cib_xml::ops::empty_cib();
                if let Some(v) = &o.validate_with {
                    cib.set_attr("validate-with", v);
                }
                say(&format!(
                    "Created new {} configuration\n",
                    cib.attr("validate-with").unwrap_or("")
                ));
                cib
            } else {
                match live() {
                    Ok(s) => s.cib().clone(),
                    Err(code) => return code,
                }
            };
            if let Err(e) = write_shadow(&file, &cib) {
                let verb = if matches!(cmd, Command::Reset(_)) {
                    "reset"
                } else {
                    "create"
                };
                return fail(
                    exit::CANTCREAT,
                    &format!("Could not {verb} the shadow instance '{name}': {e}"),
                );
            }
            setup(&name, o.batch, false)
        }
        Command::Switch(_) => setup(&name, o.batch, true),
        Command::Edit => {
            let Some(editor) = std::env::var_os("EDITOR") else {
                return fail(6, "No value for EDITOR defined");
            };
            let e = std::process::Command::new(&editor).arg(&file).exec();
            fail(
                72,
                &format!(
                    "Could not invoke EDITOR ({} {}): {e}",
                    editor.to_string_lossy(),
                    file.display()
                ),
            )
        }
        Command::Display => match read_shadow(&file) {
            Ok(cib) => {
                say(&to_pcmk_pretty(&cib));
                ExitCode::from(exit::OK)
            }
            Err(code) => code,
        },
        Command::Diff => {
            let shadow = match read_shadow(&file) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let session = match live() {
                Ok(s) => s,
                Err(code) => return code,
            };
            match cib_xml::patch::diff(session.cib(), &shadow) {
                Some(mut p) => {
                    p.digest = None;
                    let mut text = String::new();
                    for l in patch_lines(&p) {
                        text.push_str(&l);
                        text.push('\n');
                    }
                    say(&text);
                    ExitCode::from(exit::ERROR)
                }
                None => ExitCode::from(exit::OK),
            }
        }
        Command::Commit(_) => {
            let shadow = match read_shadow(&file) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let mut session = match live() {
                Ok(s) => s,
                Err(code) => return code,
            };
            let data = if o.all {
                Some(&shadow)
            } else {
                shadow.child("configuration")
            };
            let Some(data) = data else {
                return fail(
                    exit::DATAERR,
                    &format!("Shadow instance '{name}' has no configuration"),
                );
            };
            let mut req = Request::new(Op::Replace);
            if !o.all {
                req.section = Some("configuration");
            }
            req.data = Some(data);
            let code = match session.apply(&[req]) {
                Ok(()) => exit::OK,
                Err(e) => {
                    eprintln!(
                        "Could not commit shadow instance '{name}' to the CIB: {}",
                        e.message
                    );
                    e.code
                }
            };
            teardown(&name);
            ExitCode::from(code)
        }
        Command::Which | Command::File | Command::Delete(_) => ExitCode::from(exit::OK),
    }
}
