//! lrmadmin: cluster-glue's tool to drive the local lrmd by hand, with its
//! options, output and exit codes (shared/design/CIB-LRM-FENCING.md §2.2).
//! Exit codes, as cluster-glue's small negative returns seen by the shell:
//! 254 lrmd unreachable or no such resource for `-E`, 253 a refused
//! request, 255 a bad option, 251 no result in time, and for `-E` the
//! operation's rc.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use lrmapi::{Event, LrmClient, Notify, OpResult, OpSpec, Request, Resource, Response};

const EXIT_NOT_RUNNING: u8 = 254;
const EXIT_FAILED: u8 = 253;
const EXIT_USAGE: u8 = 255;
const EXIT_TIMEOUT: u8 = 251;

#[derive(Parser, Debug)]
#[command(
    name = "lrmadmin",
    about = "Drive the local resource manager (lrmd) by hand"
)]
struct Args {
    /// Check whether lrmd runs.
    #[arg(short = 'd', long = "daemon")]
    daemon: bool,
    /// RSCID CLASS TYPE PROVIDER|NULL [PARAMS...]
    #[arg(short = 'A', long = "add", num_args = 4.., value_name = "ARG", allow_hyphen_values = true)]
    add: Option<Vec<String>>,
    /// RSCID
    #[arg(short = 'D', long = "delete", value_name = "RSCID")]
    delete: Option<String>,
    /// RSCID
    #[arg(short = 'F', long = "flush", value_name = "RSCID")]
    flush: Option<String>,
    /// RSCID [FAIL_RC [REASON]]
    #[arg(short = 'X', long = "fail", num_args = 1..=3, value_name = "ARG")]
    fail: Option<Vec<String>>,
    /// RSCID OP TIMEOUT INTERVAL TARGET_RC|EVERYTIME|CHANGED [PARAMS...]
    #[arg(short = 'E', long = "execute", num_args = 5.., value_name = "ARG", allow_hyphen_values = true)]
    execute: Option<Vec<String>>,
    /// RSCID
    #[arg(short = 'S', long = "state", value_name = "RSCID")]
    state: Option<String>,
    /// Name shown for the resource with -S.
    #[arg(short = 'n', value_name = "FAKE_NAME")]
    fake_name: Option<String>,
    /// List all resources.
    #[arg(short = 'L', long = "listall")]
    listall: bool,
    /// RSCID
    #[arg(short = 'I', long = "information", value_name = "RSCID")]
    information: Option<String>,
    /// List the supported classes.
    #[arg(short = 'C', long = "raclass_supported")]
    classes: bool,
    /// CLASS: list its agents.
    #[arg(short = 'T', long = "ratype_supported", value_name = "CLASS")]
    types: Option<String>,
    /// CLASS: all metadata of the class.
    #[arg(short = 'O', long = "all", value_name = "CLASS")]
    all: Option<String>,
    /// CLASS TYPE PROVIDER|NULL
    #[arg(short = 'M', long = "metadata", num_args = 3, value_name = "ARG")]
    metadata: Option<Vec<String>>,
    /// CLASS TYPE
    #[arg(short = 'P', long = "provider", num_args = 2, value_name = "ARG")]
    provider: Option<Vec<String>>,
    /// NAME VALUE
    #[arg(short = 'p', long = "set_lrmd_param", num_args = 2, value_name = "ARG")]
    set_param: Option<Vec<String>>,
    /// NAME
    #[arg(short = 'g', long = "get_lrmd_param", value_name = "NAME")]
    get_param: Option<String>,
    /// Print the version.
    #[arg(short = 'v')]
    version: bool,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    if args.version {
        println!("lrmadmin {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let paths = plumbing::HaPaths::from_env();
    let mut c = match LrmClient::local(&paths, Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => {
            println!("lrmd is not running.");
            eprintln!("lrmadmin: WARN: Can't connect to lrmd! ({e})");
            return ExitCode::from(if args.daemon { 3 } else { EXIT_NOT_RUNNING });
        }
    };
    ExitCode::from(match run(&args, &mut c) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lrmadmin: ERROR: {e}");
            EXIT_NOT_RUNNING
        }
    })
}

fn call(c: &mut LrmClient, r: Request) -> Result<Response, String> {
    c.call(&r).map_err(|e| format!("lrmd: {e}"))
}

fn params(class: &str, raw: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut m = BTreeMap::new();
    if class == "ocf" || class == "stonith" {
        for p in raw {
            let Some((k, v)) = p.split_once('=') else {
                return Err(format!("Parameter {p} is invalid for the OCF standard."));
            };
            m.insert(k.to_owned(), v.to_owned());
        }
    } else {
        for (i, p) in raw.iter().enumerate() {
            m.insert((i + 1).to_string(), p.clone());
        }
    }
    Ok(m)
}

fn simple(c: &mut LrmClient, r: Request, ok: &str, bad: &str) -> Result<u8, String> {
    Ok(match call(c, r)? {
        Response::Ok => {
            println!("{ok}");
            0
        }
        other => {
            println!("{bad}");
            if let Response::Failed(why) = other {
                eprintln!("lrmadmin: ERROR: {why}");
            }
            EXIT_FAILED
        }
    })
}

fn run(a: &Args, c: &mut LrmClient) -> Result<u8, String> {
    if a.daemon {
        // cluster-glue's quirk: a reachable lrmd is reported this way.
        println!("lrmd is stopped.");
        return Ok(0);
    }
    if let Some(v) = &a.add {
        let provider = (v[3] != "NULL").then(|| v[3].clone());
        let p = match params(&v[1], &v[4..]) {
            Ok(p) => p,
            Err(e) => {
                println!("{e}");
                return Ok(EXIT_FAILED);
            }
        };
        let rsc = Resource {
            id: v[0].clone(),
            class: v[1].clone(),
            rtype: v[2].clone(),
            provider,
            params: p,
        };
        return simple(
            c,
            Request::Add(rsc),
            "Succeeded in adding this resource.",
            "Failed to add this resource.",
        );
    }
    if let Some(id) = &a.delete {
        return simple(
            c,
            Request::Delete(id.clone()),
            "Succeeded in deleting this resource.",
            "Failed to delete this resource.",
        );
    }
    if let Some(id) = &a.flush {
        return simple(
            c,
            Request::Flush(id.clone()),
            "Succeeded in flushing.",
            "Failed to flush.",
        );
    }
    if let Some(v) = &a.fail {
        let rc = match v.get(1).map(|s| s.parse::<i32>()) {
            None => 1,
            Some(Ok(rc)) => rc,
            Some(Err(_)) => return Ok(EXIT_USAGE),
        };
        let reason = v.get(2).cloned().unwrap_or_else(|| "unknown".into());
        return simple(
            c,
            Request::Fail(v[0].clone(), rc, reason),
            "Succeeded in failing the resource.",
            "Failed to fail the resource.",
        );
    }
    if let Some(v) = &a.execute {
        return execute(c, v);
    }
    if let Some(id) = &a.state {
        return state(c, id, a.fake_name.as_deref());
    }
    if a.listall {
        let Response::Resources(list) = call(c, Request::List)? else {
            return Ok(EXIT_FAILED);
        };
        if list.is_empty() {
            println!("Currently no resources are managed by LRM.");
        }
        for r in &list {
            println!();
            print_rsc(r);
        }
        return Ok(0);
    }
    if let Some(id) = &a.information {
        return Ok(match call(c, Request::Get(id.clone()))? {
            Response::Resource(r) => {
                print_rsc(&r);
                0
            }
            _ => {
                println!("There is no such resource.");
                EXIT_FAILED
            }
        });
    }
    if a.classes {
        let Response::Names(v) = call(c, Request::Classes)? else {
            return Ok(EXIT_FAILED);
        };
        if v.is_empty() {
            println!("No RA classes found!");
        } else {
            println!("There are {} RA classes supported:", v.len());
            for n in v {
                println!("{n}");
            }
        }
        return Ok(0);
    }
    if let Some(class) = &a.types {
        return Ok(match call(c, Request::Types(class.clone()))? {
            Response::Names(v) => {
                println!("There are {} RAs:", v.len());
                for n in v {
                    println!("{n}");
                }
                0
            }
            _ => {
                println!("No RA of class {class} found!");
                EXIT_FAILED
            }
        });
    }
    if let Some(class) = &a.all {
        let Response::Names(types) = call(c, Request::Types(class.clone()))? else {
            return Ok(EXIT_FAILED);
        };
        for t in types {
            if let Response::Text(md) = call(c, Request::Metadata(class.clone(), t, None))? {
                println!("{md}");
            }
        }
        return Ok(0);
    }
    if let Some(v) = &a.metadata {
        let provider = (v[2] != "NULL").then(|| v[2].clone());
        return Ok(
            match call(c, Request::Metadata(v[0].clone(), v[1].clone(), provider))? {
                Response::Text(md) => {
                    println!("{md}");
                    0
                }
                _ => EXIT_FAILED,
            },
        );
    }
    if let Some(v) = &a.provider {
        let Response::Names(ps) = call(c, Request::Providers(v[0].clone(), v[1].clone()))? else {
            return Ok(EXIT_FAILED);
        };
        for p in ps {
            println!("{p}");
        }
        return Ok(0);
    }
    if let Some(v) = &a.set_param {
        return Ok(
            match call(c, Request::SetParam(v[0].clone(), v[1].clone()))? {
                Response::Ok => 0,
                _ => EXIT_FAILED,
            },
        );
    }
    if let Some(name) = &a.get_param {
        return Ok(match call(c, Request::GetParam(name.clone()))? {
            Response::Text(t) => {
                println!("{t}");
                0
            }
            _ => EXIT_FAILED,
        });
    }
    eprintln!("lrmadmin: no command given; see lrmadmin -h");
    Ok(EXIT_USAGE)
}

fn print_rsc(r: &Resource) {
    println!("Resource ID:{}", r.id);
    println!("Resource agent class:{}", r.class);
    println!("Resource agent type:{}", r.rtype);
    println!(
        "Resource agent provider:{}",
        r.provider.as_deref().unwrap_or("default")
    );
    if !r.params.is_empty() {
        println!("Resource agent parameters:{}", params_text(&r.params));
    }
}

fn params_text(p: &BTreeMap<String, String>) -> String {
    p.iter().map(|(k, v)| format!("{k}={v}  ")).collect()
}

fn ctime(secs: u64) -> String {
    let t = secs as libc::time_t;
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: ctime_r writes at most 26 bytes into the 64-byte buffer.
    let p = unsafe { libc::ctime_r(&t, buf.as_mut_ptr()) };
    if p.is_null() {
        return secs.to_string();
    }
    // SAFETY: ctime_r returned a NUL-terminated string in buf.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .trim_end()
        .to_owned()
}

fn rc_text(rc: i32) -> &'static str {
    match rc {
        0 => "ok",
        1 => "unknown error",
        2 => "invalid parameter",
        3 => "unimplemented feature",
        4 => "insufficient privileges",
        5 => "not installed",
        6 => "not configured",
        7 => "not running",
        8 => "master",
        9 => "failed master",
        _ => "unknown",
    }
}

fn state(c: &mut LrmClient, id: &str, fake: Option<&str>) -> Result<u8, String> {
    let Response::State(s) = call(c, Request::State(id.to_owned()))? else {
        println!("There is no such resource.");
        return Ok(EXIT_FAILED);
    };
    println!(
        "resource state:{}",
        if s.busy {
            "LRM_RSC_BUSY"
        } else {
            "LRM_RSC_IDLE"
        }
    );
    let name = fake.unwrap_or(id);
    println!("The resource {name} operations' information:");
    let mut shown: Vec<(u64, OpSpec, Option<OpResult>)> = s.pending;
    // Finished one-shot operations are shown from the history.
    for h in s.history {
        if !shown.iter().any(|(id, _, _)| *id == h.call_id) {
            shown.push((h.call_id, h.spec.clone(), Some(h)));
        }
    }
    shown.sort_by_key(|p| p.0);
    for (call_id, spec, last) in shown {
        println!("   operation '{}' [call_id={call_id}]:", spec.op);
        println!(
            "      start_delay={}, interval={}, timeout={}, app_name={}",
            spec.start_delay_ms, spec.interval_ms, spec.timeout_ms, spec.app_name
        );
        match last {
            Some(r) => {
                println!(
                    "      rc={} ({}), op_status={} ({})",
                    r.rc,
                    rc_text(r.rc),
                    r.status.code(),
                    r.status.word()
                );
                println!("      run at: {}", ctime(r.run_at));
                println!("      last rc change at: {}", ctime(r.rc_changed_at));
                println!(
                    "      queue time: {}ms, exec time: {}ms",
                    r.queue_ms, r.exec_ms
                );
            }
            None => println!("      rc=-1 (unknown), op_status=-1 (pending)"),
        }
        if !spec.params.is_empty() {
            println!("      parameters: {}", params_text(&spec.params));
        }
    }
    Ok(0)
}

fn execute(c: &mut LrmClient, v: &[String]) -> Result<u8, String> {
    let (Ok(timeout_ms), Ok(interval_ms)) = (v[2].parse::<u64>(), v[3].parse::<u64>()) else {
        println!("Invalid timeout or interval: {} {}", v[2], v[3]);
        return Ok(EXIT_FAILED);
    };
    let notify = match v[4].as_str() {
        "EVERYTIME" => Notify::Every,
        "CHANGED" => Notify::Changed,
        n => match n.parse::<i32>() {
            Ok(-1) => Notify::Every,
            Ok(-2) => Notify::Changed,
            Ok(rc) => Notify::Rc(rc),
            Err(_) => {
                println!("Invalid target rc: {n}");
                return Ok(EXIT_FAILED);
            }
        },
    };
    let class = match call(c, Request::Get(v[0].clone()))? {
        Response::Resource(r) => r.class,
        _ => {
            println!("There is no such resource.");
            return Ok(EXIT_NOT_RUNNING);
        }
    };
    let p = match params(&class, &v[5..]) {
        Ok(p) => p,
        Err(e) => {
            println!("{e}");
            return Ok(EXIT_FAILED);
        }
    };
    call(c, Request::Subscribe)?;
    let spec = OpSpec {
        rsc: v[0].clone(),
        op: v[1].clone(),
        timeout_ms,
        interval_ms,
        start_delay_ms: 0,
        notify,
        params: p,
        app_name: "lrmadmin".into(),
    };
    let call_id = match call(c, Request::Perform(spec))? {
        Response::CallId(id) => id,
        Response::NoSuchResource => {
            println!("There is no such resource.");
            return Ok(EXIT_NOT_RUNNING);
        }
        other => {
            println!("Failed to execute the operation: {other:?}");
            return Ok(EXIT_FAILED);
        }
    };
    println!("Waiting for lrmd to callback...");
    // The agent's timeout, the TERM-to-KILL grace and a second.
    let effective = if timeout_ms == 0 { 20_000 } else { timeout_ms };
    let deadline = Instant::now() + Duration::from_millis(effective + 3000);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            println!("ERROR: This operation has timed out - no result from lrmd.");
            return Ok(EXIT_TIMEOUT);
        }
        match c.next_event(Some(left)).map_err(|e| format!("lrmd: {e}"))? {
            Some(Event::OpDone(r)) if r.call_id == call_id => {
                print_result(&r);
                return Ok(r.rc.clamp(0, 255) as u8);
            }
            _ => {}
        }
    }
}

fn print_result(r: &OpResult) {
    println!("----------------operation--------------");
    println!("type:{}", r.spec.op);
    println!("operation status:{}", r.status.word());
    println!("op_status: {}", r.status.code());
    println!("return code: {}", r.rc);
    println!("output data: ");
    if r.output.is_empty() {
        println!("[null]");
    } else {
        print!("{}", r.output);
        if !r.output.ends_with('\n') {
            println!();
        }
    }
    println!("---------------------------------------");
    println!();
}
