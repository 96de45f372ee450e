//! crm_standby: shows, sets or clears a node's standby mode — the
//! `standby` node attribute — through crm_attribute's code, with the
//! defaults Pacemaker's crm_standby has: this host's node unless `-N`;
//! a query reads the permanent value and falls back to the transient one
//! (`off` when neither is set); an update is permanent unless `-l` says
//! otherwise; a delete without `-l` removes both.

use std::process::ExitCode;

use clap::{ArgAction, Parser};
use crm_attribute::{main_with, Args as AttrArgs};

#[derive(Parser, Debug)]
#[command(
    name = "crm_standby",
    about = "Shows, enables or disables standby mode for a node; a node in standby runs no resources.",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    /// Print only the standby value
    #[arg(short = 'q', long = "quiet", visible_short_alias = 'Q')]
    quiet: bool,
    /// Show the node's standby value (the default command)
    #[arg(short = 'G', long = "query", alias = "get-value")]
    query: bool,
    /// Set standby to VALUE (on or off)
    #[arg(
        short = 'v',
        long = "update",
        alias = "attr-value",
        value_name = "VALUE"
    )]
    update: Option<String>,
    /// Remove the setting (standby then defaults to off)
    #[arg(short = 'D', long = "delete", alias = "delete-attr")]
    delete: bool,
    /// The node (this host when not given)
    #[arg(
        short = 'N',
        long = "node",
        visible_short_alias = 'U',
        alias = "uname",
        value_name = "NODE"
    )]
    node: Option<String>,
    /// reboot (until the node restarts) or forever
    #[arg(short = 'l', long = "lifetime", value_name = "LIFETIME")]
    lifetime: Option<String>,
    /// The XML id of the standby attribute
    #[arg(short = 'i', long = "id", alias = "attr-id", value_name = "ID")]
    id: Option<String>,
    /// Increase debug output
    #[arg(short = 'V', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// Show help
    #[arg(long = "help", action = ArgAction::Help)]
    help: Option<bool>,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                clap::error::ErrorKind::DisplayHelp => 0,
                _ => 1,
            });
        }
    };
    let base = AttrArgs {
        name: Some("standby".into()),
        node: Some(
            args.node
                .clone()
                .unwrap_or_else(crm_attribute::local_node_name),
        ),
        id: args.id.clone(),
        quiet: args.quiet,
        verbose: args.verbose,
        ..AttrArgs::default()
    };
    let with_lifetime = |l: &str| AttrArgs {
        lifetime: Some(l.to_string()),
        ..base.clone()
    };
    if let Some(value) = &args.update {
        let lifetime = args.lifetime.as_deref().unwrap_or("forever");
        return main_with(AttrArgs {
            update: Some(value.clone()),
            ..with_lifetime(lifetime)
        });
    }
    if args.delete {
        if let Some(l) = &args.lifetime {
            return main_with(AttrArgs {
                delete: true,
                ..with_lifetime(l)
            });
        }
        // Both entries go; as Pacemaker's, the outcome is success.
        let _ = main_with(AttrArgs {
            delete: true,
            ..with_lifetime("forever")
        });
        let _ = main_with(AttrArgs {
            delete: true,
            ..with_lifetime("reboot")
        });
        return ExitCode::SUCCESS;
    }
    if let Some(l) = &args.lifetime {
        return main_with(AttrArgs {
            query: true,
            ..with_lifetime(l)
        });
    }
    let permanent = AttrArgs {
        query: true,
        ..with_lifetime("forever")
    };
    if crm_attribute::run_quietly(&permanent) {
        return main_with(permanent);
    }
    main_with(AttrArgs {
        query: true,
        default: Some("off".into()),
        ..with_lifetime("reboot")
    })
}
