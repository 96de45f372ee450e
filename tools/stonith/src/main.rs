//! cluster-glue's `stonith` command: list the device types, show a type's
//! parameters and metadata, and run a device directly (no daemon): list
//! its hosts, check its status, reset/on/off a node. Devices are run by
//! `fencing::exec`, the same code stonithd uses. Exit codes are
//! cluster-glue's S_* codes (shared/design/CIB-LRM-FENCING.md §3.1).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use fencing::exec::{self, AgentDirs, AgentInfo, Call};
use fencing::{AgentKind, Device};
use stonithapi::DeviceSpec;

/// cluster-glue's result codes.
mod s {
    pub const OK: u8 = 0;
    pub const BADCONFIG: u8 = 1;
    pub const ACCESS: u8 = 2;
    pub const RESETFAIL: u8 = 5;
    pub const TIMEOUT: u8 = 6;
    pub const OOPS: u8 = 8;
}

/// How long one device action may take (cluster-glue waits without a
/// limit; an operator confirming meatware can take long).
const ACTION_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

const USAGE: &str = "usage:
\t stonith [-svh] -L
\t stonith [-svh] -t stonith-device-type -n
\t stonith [-svh] -t stonith-device-type -m
\t stonith [-svh] -t stonith-device-type {-p stonith-device-parameters | -F stonith-device-parameters-file | -E | name=value...} [-c count] -lS
\t stonith [-svh] -t stonith-device-type {-p stonith-device-parameters | -F stonith-device-parameters-file | -E | name=value...} [-c count] -T {reset|on|off} nodename

where:
\t-L\tlist supported stonith device types
\t-l\tlist hosts controlled by this stonith device
\t-S\treport stonith device status
\t-s\tsilent
\t-v\tverbose
\t-n\toutput the config names of stonith-device-parameters
\t-m\tdisplay meta-data of the stonith device type
\t-h\tdisplay detailed help message with stonith device description(s)
";

#[derive(Default)]
struct Opts {
    list_types: bool,
    list_hosts: bool,
    status: bool,
    silent: bool,
    verbose: bool,
    names: bool,
    meta: bool,
    help: bool,
    from_env: bool,
    dtype: Option<String>,
    positional_params: Option<String>,
    param_file: Option<String>,
    count: u32,
    reset: Option<String>,
    pairs: Vec<(String, String)>,
    node: Option<String>,
}

fn usage_error(msg: &str) -> ExitCode {
    if !msg.is_empty() {
        eprintln!("{msg}");
    }
    eprint!("{USAGE}");
    ExitCode::from(s::BADCONFIG)
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        count: 1,
        ..Opts::default()
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) {
            let chars: Vec<char> = flags.chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let takes = matches!(c, 't' | 'p' | 'F' | 'c' | 'T');
                let val = if takes {
                    let rest: String = chars[j..].iter().collect();
                    j = chars.len();
                    if !rest.is_empty() {
                        rest
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        return Err(format!("option requires an argument -- '{c}'"));
                    }
                } else {
                    String::new()
                };
                match c {
                    'L' => o.list_types = true,
                    'l' => o.list_hosts = true,
                    'S' => o.status = true,
                    's' => o.silent = true,
                    'v' => o.verbose = true,
                    'n' => o.names = true,
                    'm' => o.meta = true,
                    'h' => o.help = true,
                    'E' => o.from_env = true,
                    'd' | 'W' => {}
                    't' => o.dtype = Some(val),
                    'p' => o.positional_params = Some(val),
                    'F' => o.param_file = Some(val),
                    'c' => o.count = val.parse().map_err(|_| format!("invalid count '{val}'"))?,
                    'T' => o.reset = Some(val),
                    _ => return Err(format!("invalid option -- '{c}'")),
                }
            }
        } else if let Some((k, v)) = a.split_once('=') {
            o.pairs.push((k.to_string(), v.to_string()));
        } else if o.node.is_none() {
            o.node = Some(a.clone());
        } else {
            return Err(format!("unexpected argument '{a}'"));
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => return usage_error(&format!("stonith: {e}")),
    };
    let dirs = AgentDirs::from_env();
    if o.help {
        print!("{USAGE}");
        println!("\nSTONITH device types:");
        for t in dirs
            .installed()
            .into_iter()
            .filter(|t| !t.starts_with("fence_"))
        {
            println!("\t{t}");
        }
        return ExitCode::SUCCESS;
    }
    if o.list_types {
        for t in dirs
            .installed()
            .into_iter()
            .filter(|t| !t.starts_with("fence_"))
        {
            println!("{t}");
        }
        return ExitCode::SUCCESS;
    }
    let Some(dtype) = o.dtype.clone() else {
        return usage_error("");
    };
    let kind = match AgentKind::parse(&dtype) {
        Some(k @ (AgentKind::External(_) | AgentKind::Native(_)))
            if dirs.program(&k).is_none_or(|p| p.is_file()) =>
        {
            k
        }
        _ => {
            eprintln!("ERROR: Invalid device type: '{dtype}'");
            return ExitCode::from(s::OOPS);
        }
    };
    if o.names {
        match exec::config_names(&dirs, &kind) {
            Ok(names) => {
                let line: String = names.iter().map(|n| format!("{n}  ")).collect();
                println!("{line}");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("ERROR: {e}");
                return ExitCode::from(s::OOPS);
            }
        }
    }
    if o.meta {
        return match exec::metadata(&dirs, &dtype) {
            Ok(m) => {
                print!("{m}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ERROR: {e}");
                ExitCode::from(s::OOPS)
            }
        };
    }
    if !o.list_hosts && !o.status && o.reset.is_none() {
        return usage_error("");
    }
    let params = match config(&o, &dirs, &kind) {
        Ok(p) => p,
        Err(e) => return usage_error(&e),
    };
    let device = match Device::new(&DeviceSpec {
        id: dtype.clone(),
        agent: dtype.clone(),
        params,
    }) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return ExitCode::from(s::BADCONFIG);
        }
    };
    let info = AgentInfo::plugin();
    let local = plumbing::HaPaths::from_env().nodename.to_ascii_lowercase();
    let run = |action: &str, target: Option<&str>| {
        exec::execute(
            &dirs,
            &device,
            &info,
            &Call {
                action,
                target,
                nodeid: None,
                local: &local,
                timeout: ACTION_TIMEOUT,
            },
        )
    };
    for _ in 0..o.count.max(1) {
        if o.status {
            let r = run("status", None);
            if r.ok("status") {
                if !o.silent {
                    eprintln!("info: {dtype} device OK.");
                }
            } else {
                if !o.silent {
                    eprintln!("ERROR: {dtype} device not accessible.");
                }
                return ExitCode::from(s::ACCESS);
            }
        }
        if o.list_hosts {
            let r = run("list", None);
            if !r.ok("list") {
                eprintln!("ERROR: Could not list hosts for {dtype}.");
                return ExitCode::from(s::BADCONFIG);
            }
            for h in exec::parse_list_output(&r.output, true) {
                println!("{h}");
            }
        }
        if let Some(op) = &o.reset {
            let action = match op.as_str() {
                "reset" => "reboot",
                "on" => "on",
                "off" => "off",
                _ => return usage_error(&format!("stonith: invalid reset type '{op}'")),
            };
            let Some(node) = o.node.as_deref() else {
                return usage_error("stonith: -T needs a node name");
            };
            let node = node.to_lowercase();
            if kind == AgentKind::Native(fencing::NativePlugin::Meatware) {
                eprintln!("CRIT: OPERATOR INTERVENTION REQUIRED to {op} {node}.");
                eprintln!("CRIT: Run \"meatclient -c {node}\" AFTER power-cycling the machine.");
            }
            let r = run(action, Some(&node));
            if r.timed_out {
                eprintln!("ERROR: {dtype} {op} of {node} timed out.");
                return ExitCode::from(s::TIMEOUT);
            }
            if !r.ok(action) {
                if !o.silent {
                    eprintln!("ERROR: {}", r.reason);
                }
                return ExitCode::from(s::RESETFAIL);
            }
            if o.verbose {
                eprint!("{}", r.output);
            }
        }
    }
    ExitCode::from(s::OK)
}

/// The device's parameters from `name=value` arguments, `-p` (values in
/// `getconfignames` order, the last taking the rest), `-F` (a file of the
/// same form) or `-E` (environment variables named like the parameters).
fn config(
    o: &Opts,
    dirs: &AgentDirs,
    kind: &AgentKind,
) -> Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    let positional = match (&o.positional_params, &o.param_file) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read {f}: {e}"))?
                .trim()
                .to_string(),
        ),
        _ => None,
    };
    if positional.is_none() && !o.from_env && o.pairs.is_empty() {
        return Err(
            "Must specify either -p option, -F option, -E option, or name=value style arguments"
                .into(),
        );
    }
    let names = exec::config_names(dirs, kind).unwrap_or_default();
    if let Some(text) = positional {
        let mut rest = text.trim();
        for (i, n) in names.iter().enumerate() {
            if i + 1 == names.len() {
                params.insert(n.clone(), rest.to_string());
                break;
            }
            let (v, r) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            params.insert(n.clone(), v.to_string());
            rest = r.trim_start();
        }
    }
    if o.from_env {
        for n in &names {
            if let Ok(v) = std::env::var(n) {
                params.insert(n.clone(), v);
            }
        }
    }
    for (k, v) in &o.pairs {
        params.insert(k.clone(), v.clone());
    }
    if params.is_empty() && !names.is_empty() {
        return Err(format!("invalid configuration for {}", names.join(" ")));
    }
    Ok(params)
}
