//! crm_verify: checks a whole CIB — the running cluster's (`-L`), a file
//! (`-x`), a string (`-X`) or standard input (`-p`) — and reports schema
//! errors and the scheduler's configuration errors (`-V`) and warnings
//! (`-VV`), with Pacemaker 2.1.5's messages and exit codes. `-S FILE`
//! saves the XML that was checked.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use cib_xml::doc::{parse_cib, to_pcmk_pretty};
use cib_xml::time::DateTime;
use cib_xml::Limits;
use clap::{ArgAction, Parser};
use clitools::exit;

#[derive(Parser, Debug)]
#[command(
    name = "crm_verify",
    about = "Checks a cluster configuration for errors and questionable settings.",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    /// Check the configuration the running cluster uses
    #[arg(short = 'L', long = "live-check")]
    live_check: bool,
    /// Check the configuration in FILE
    #[arg(short = 'x', long = "xml-file", value_name = "FILE")]
    xml_file: Option<String>,
    /// Check the configuration given as text
    #[arg(short = 'X', long = "xml-text", value_name = "XML")]
    xml_text: Option<String>,
    /// Check the configuration read from standard input
    #[arg(short = 'p', long = "xml-pipe")]
    xml_pipe: bool,
    /// Also save the checked XML to FILE (most useful with -L)
    #[arg(short = 'S', long = "save-xml", value_name = "FILE")]
    save_xml: Option<String>,
    /// Output format: text, or xml (a Pacemaker result document on
    /// stdout; the messages stay on stderr as in text)
    #[arg(long = "output-as", value_name = "FORMAT", default_value = "text",
          value_parser = ["text", "xml"])]
    output_as: String,
    /// Show errors (-V), then warnings too (-VV)
    #[arg(short = 'V', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// Show help
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    help: Option<bool>,
}

fn fail(code: u8, message: &str) -> u8 {
    eprintln!("crm_verify: {message}");
    code
}

fn now() -> DateTime {
    clitools::now()
}

fn main() -> ExitCode {
    let args: Args = match clitools::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let code = check(&args);
    if args.output_as == "xml" {
        let text = clitools::xml_result(&clitools::command_line(), Vec::new(), code, &[]);
        let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    }
    ExitCode::from(code)
}

/// Checks the input `args` name; the exit code.
fn check(args: &Args) -> u8 {
    // The input and what to call it in messages (Pacemaker's order of
    // precedence: live, file, text, stdin).
    let (text, source, what) = if args.live_check {
        match clitools::query_cib_text(Duration::from_secs(30)) {
            Ok(t) => (t, String::new(), "the live CIB".to_string()),
            Err(e) => return fail(e.code, &format!("CIB query failed: {}", e.message)),
        }
    } else if let Some(f) = &args.xml_file {
        match cib_xml::compressed::read_text(Path::new(f)) {
            Ok(t) => (t, f.clone(), format!("input file: {f}")),
            Err(e) => {
                eprintln!("{f}: {e}");
                return fail(exit::ERROR, &format!("Couldn't parse input file: {f}"));
            }
        }
    } else if let Some(t) = &args.xml_text {
        (t.clone(), String::new(), format!("input string: {t}"))
    } else if args.xml_pipe {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("standard input: {e}");
            return fail(exit::ERROR, "Couldn't parse input from STDIN.");
        }
        (s, String::new(), "input from STDIN.".to_string())
    } else {
        return fail(
            exit::ERROR,
            "No configuration source specified.  Use --help for usage information.",
        );
    };
    let cib = match parse_cib(&text, &Limits::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "{}{e}",
                if source.is_empty() {
                    String::new()
                } else {
                    format!("{source}: ")
                }
            );
            return fail(exit::ERROR, &format!("Couldn't parse {what}"));
        }
    };
    if !cib.name.eq_ignore_ascii_case("cib") {
        return fail(
            76,
            "This tool can only check complete configurations (i.e. those starting with <cib>).",
        );
    }
    if let Some(save) = &args.save_xml {
        if let Err(e) =
            plumbing::fs::write_atomic(Path::new(save), to_pcmk_pretty(&cib).as_bytes(), 0o644)
        {
            return fail(exit::CANTCREAT, &format!("Could not write {save}: {e}"));
        }
    }
    let report = crm_verify::verify(cib, &source, args.verbose, now());
    for line in &report.lines {
        eprintln!("{line}");
    }
    report.code
}
