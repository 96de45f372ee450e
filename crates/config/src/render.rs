//! The effective-settings listing printed by `heartbeat --check`: every
//! directive with the value in force, defaults included and marked, in the
//! directive table's order and in ha.cf syntax, so an administrator can read
//! it (or paste it) as a configuration file. Secrets are never printed.

use std::fmt::Write as _;
use std::path::Path;

use crate::authkeys::AuthKeys;
use crate::duration::format_duration;
use crate::hacf::*;
use crate::table::{is_medium, Category, DefaultValue, Directive, DIRECTIVES};

/// Renders the effective configuration, one `name value` line per setting.
/// Values not given in ha.cf end in `# default` (or `# default: RULE` when
/// derived); the authkeys summary names the signing index and method only.
pub fn render_effective(cfg: &HaCf, keys: Option<&AuthKeys>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# effective configuration from {}", cfg.path.display());
    let mut media_done = false;
    let mut category = None;
    for spec in DIRECTIVES.iter().filter(|s| s.alias_of.is_none()) {
        if category != Some(spec.category) {
            category = Some(spec.category);
            let _ = writeln!(out, "# {}", category_title(spec.category));
        }
        let d = spec.directive;
        if is_medium(d) {
            if !media_done {
                media_done = true;
                for m in &cfg.media {
                    let _ = writeln!(out, "{}", medium_line(&m.kind));
                }
            }
            continue;
        }
        let note = match (cfg.is_explicit(d), spec.default) {
            (true, _) => String::new(),
            (false, DefaultValue::Derived(rule)) => format!("  # default: {rule}"),
            (false, _) => "  # default".to_string(),
        };
        let mut line = |value: String| {
            let _ = writeln!(out, "{} {value}{note}", spec.name);
        };
        match d {
            Directive::UseLogd => line(on_off(cfg.use_logd)),
            Directive::LogFacility => line(
                cfg.logfacility
                    .map_or_else(|| "none".to_string(), |f| f.name().to_string()),
            ),
            Directive::LogFile => opt_path(&mut line, cfg.logfile.as_deref()),
            Directive::DebugFile => opt_path(&mut line, cfg.debugfile.as_deref()),
            Directive::Debug => line(cfg.debug.to_string()),
            Directive::SyslogMsgFmt => line(on_off(cfg.syslogmsgfmt)),
            Directive::ConnLogdTime => line(format_duration(cfg.conn_logd_time)),
            Directive::LogBadpack => line(on_off(cfg.log_badpack)),
            Directive::Keepalive => line(format_duration(cfg.keepalive)),
            Directive::Warntime => line(format_duration(cfg.warntime)),
            Directive::Deadtime => line(format_duration(cfg.deadtime)),
            Directive::Initdead => line(format_duration(cfg.initdead)),
            Directive::Deadping => line(format_duration(cfg.deadping)),
            Directive::UdpPort => line(cfg.udpport.to_string()),
            Directive::Baud => line(cfg.baud.to_string()),
            Directive::Node => {
                for n in &cfg.nodes {
                    let _ = writeln!(out, "node {n}");
                }
            }
            Directive::Autojoin => line(
                match cfg.autojoin {
                    AutoJoin::None => "none",
                    AutoJoin::Other => "other",
                    AutoJoin::Any => "any",
                }
                .to_string(),
            ),
            Directive::Cluster => line(cfg.cluster.clone()),
            Directive::QuorumServer => {
                if let Some(q) = &cfg.quorum_server {
                    line(q.clone());
                }
            }
            Directive::Hopfudge => line(cfg.hopfudge.to_string()),
            Directive::CrmDaemonDir => opt_path(&mut line, cfg.crm_daemon_dir.as_deref()),
            Directive::CrmdSpawnsPengine => line(on_off(cfg.crmd_spawns_pengine)),
            Directive::Pacemaker => line(cfg.pacemaker.as_str().to_string()),
            Directive::AutoFailback => line(
                match cfg.auto_failback {
                    AutoFailback::On => "on",
                    AutoFailback::Off => "off",
                    AutoFailback::Legacy => "legacy",
                }
                .to_string(),
            ),
            // Folded into auto_failback above.
            Directive::NiceFailback => {}
            Directive::RecordConfigChanges => line(on_off(cfg.record_config_changes)),
            Directive::RecordPengineInputs => line(on_off(cfg.record_pengine_inputs)),
            Directive::EnableConfigWrites => line(on_off(cfg.enable_config_writes)),
            Directive::Stonith => {
                for s in &cfg.stonith {
                    if let StonithConfig::File {
                        stonith_type,
                        config_file,
                        ..
                    } = s
                    {
                        let _ = writeln!(out, "stonith {stonith_type} {config_file}");
                    }
                }
            }
            Directive::StonithHost => {
                for s in &cfg.stonith {
                    if let StonithConfig::Host {
                        from_host,
                        stonith_type,
                        params,
                        ..
                    } = s
                    {
                        let _ = writeln!(
                            out,
                            "{}",
                            format!("stonith_host {from_host} {stonith_type} {params}").trim_end()
                        );
                    }
                }
            }
            Directive::ApiAuth => {
                for a in cfg.effective_apiauth() {
                    // Pacemaker's entries are shown as comments: written out
                    // in ha.cf they would clash with the pacemaker line.
                    let _ = match a.source {
                        ApiAuthSource::Line(_) => writeln!(out, "{a}"),
                        ApiAuthSource::Pacemaker => writeln!(out, "# {a}  (added by pacemaker)"),
                        ApiAuthSource::BuiltIn => writeln!(out, "{a}  # default"),
                    };
                }
            }
            Directive::Respawn | Directive::Failfast => {
                let failfast = d == Directive::Failfast;
                for c in cfg.children.iter().filter(|c| c.failfast == failfast) {
                    let _ = writeln!(out, "{} {} {}", spec.name, c.user, c.command);
                }
            }
            Directive::Env => {
                for e in &cfg.env {
                    let _ = writeln!(out, "env {}={}", e.name, e.value);
                }
            }
            Directive::Watchdog => opt_path(&mut line, cfg.watchdog.as_deref()),
            Directive::Realtime => line(on_off(cfg.realtime)),
            Directive::Rtprio => {
                if let Some(p) = cfg.rtprio {
                    line(p.to_string());
                }
            }
            Directive::Memreserve => line(cfg.memreserve_kb.to_string()),
            Directive::Coredumps => line(on_off(cfg.coredumps)),
            Directive::Coreroot => opt_path(&mut line, cfg.coreroot.as_deref()),
            Directive::HbGenMethod => line(
                match cfg.hbgenmethod {
                    GenerationMethod::File => "file",
                    GenerationMethod::Time => "time",
                }
                .to_string(),
            ),
            Directive::UuidFrom => line(
                match cfg.uuidfrom {
                    UuidFrom::File => "file",
                    UuidFrom::Nodename => "nodename",
                }
                .to_string(),
            ),
            Directive::MsgFmt => line(
                match cfg.msgfmt {
                    MsgFmt::Classic => "classic",
                    MsgFmt::Netstring => "netstring",
                }
                .to_string(),
            ),
            Directive::Compression => line(
                match cfg.compression {
                    Compression::Zlib => "zlib",
                    Compression::Bz2 => "bz2",
                }
                .to_string(),
            ),
            Directive::CompressionThreshold => line(cfg.compression_threshold_kb.to_string()),
            Directive::TraditionalCompression => line(on_off(cfg.traditional_compression)),
            Directive::MaxRexmitDelay => line(cfg.max_rexmit_delay.as_millis().to_string()),
            Directive::UseApphbd => line(on_off(cfg.use_apphbd)),
            // Media are handled above.
            _ => {}
        }
    }
    if let Some(keys) = keys {
        let _ = writeln!(out, "# authkeys {}", keys.path.display());
        let active = keys.active();
        let _ = writeln!(out, "auth {} ({})", active.index, active.method);
        let others: Vec<String> = keys
            .keys()
            .iter()
            .filter(|k| k.index != active.index)
            .map(|k| format!("{} ({})", k.index, k.method))
            .collect();
        if !others.is_empty() {
            let _ = writeln!(out, "# also accepted: {}", others.join(", "));
        }
    }
    out
}

fn category_title(c: Category) -> &'static str {
    match c {
        Category::Logging => "logging",
        Category::Timing => "timing",
        Category::Media => "media",
        Category::Membership => "membership",
        Category::ResourceManagement => "resource management",
        Category::Processes => "processes and API access",
        Category::Tuning => "tuning",
    }
}

fn medium_line(kind: &MediumKind) -> String {
    match kind {
        MediumKind::Bcast { port, .. }
        | MediumKind::Ucast { port, .. }
        | MediumKind::Ucast6 { port, .. } => format!("{kind}  # udp port {port}"),
        MediumKind::Serial { baud, .. } => format!("{kind}  # {baud} baud"),
        _ => kind.to_string(),
    }
}

fn on_off(b: bool) -> String {
    if b { "on" } else { "off" }.to_string()
}

fn opt_path(line: &mut impl FnMut(String), p: Option<&Path>) {
    if let Some(p) = p {
        line(p.display().to_string());
    }
}
