//! Reading ha.cf the way Heartbeat 3.0.6's `parse_config` and `init_config`
//! do: line by line, in order (some directives only affect what follows
//! them), then filling in derived defaults and running Heartbeat's sanity
//! checks. Unlike Heartbeat it keeps going after an error so one run reports
//! every problem, each with its file and line.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::duration::{format_duration, parse_time, TimeUnit};
use crate::error::{ConfigError, Warning};
use crate::hacf::*;
use crate::table::{
    canonical_spec, lookup_directive, Arity, DefaultValue, Directive, DirectiveSpec, Repeat,
    DIRECTIVES,
};

/// Blanks that separate a directive from its values (`WHITESPACE`).
const BLANKS: &[char] = &[' ', '\t', '\n', '\r', '\x0c'];
/// Separators between the values of a value-list directive (`DELIMS`).
const DELIMS: &[char] = &[',', ' ', '\t', '\n', '\r', '\x0c'];

/// Directives of Heartbeat plugins or build options this implementation does
/// not provide; named in the error so nobody hunts for a typo.
const NOT_PROVIDED: &[&str] = &["hbaping", "tipc", "rds", "normalpoll", "openais"];

/// Parses the text of an ha.cf file. `path` is only used in messages.
///
/// On success returns the configuration with every default and derived value
/// filled in, plus Heartbeat's warnings. On failure returns every error
/// found (and drops the warnings).
pub fn parse_ha_cf(
    text: &str,
    path: impl AsRef<Path>,
) -> Result<(HaCf, Vec<Warning>), Vec<ConfigError>> {
    let mut p = Parser::new(path.as_ref());
    for (i, raw) in text.split('\n').enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        p.line(raw, line);
    }
    p.finish()
}

/// Reads and parses an ha.cf file.
pub fn load_ha_cf(path: impl AsRef<Path>) -> Result<(HaCf, Vec<Warning>), Vec<ConfigError>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)
        .map_err(|e| vec![ConfigError::file(path, format!("cannot read: {e}"))])?;
    let text = crate::error::utf8_text(path, bytes)?;
    parse_ha_cf(&text, path)
}

/// ha.cf for a daemon that needs it: the configuration, or every error
/// as one message, one per line (warnings are heartbeat's to report).
pub fn load_ha_cf_or_message(path: impl AsRef<Path>) -> Result<HaCf, String> {
    load_ha_cf(path).map(|(cf, _)| cf).map_err(|errs| {
        errs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// ha.cf for a CRM daemon that can also run standalone: `Ok(None)` when
/// it cannot be used and is not `required`.
pub fn load_ha_cf_for_daemon(
    path: impl AsRef<Path>,
    required: bool,
) -> Result<Option<HaCf>, String> {
    match load_ha_cf_or_message(path) {
        Ok(cf) => Ok(Some(cf)),
        Err(e) if required => Err(e),
        Err(_) => Ok(None),
    }
}

/// Which UDP media latch the port: Heartbeat's bcast, ucast and ucast6
/// plugins each read `udpport` once, when their first line is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UdpPlugin {
    Bcast,
    Ucast,
    Ucast6,
}

impl UdpPlugin {
    fn name(self) -> &'static str {
        match self {
            UdpPlugin::Bcast => "bcast",
            UdpPlugin::Ucast => "ucast",
            UdpPlugin::Ucast6 => "ucast6",
        }
    }
}

struct Parser<'a> {
    path: &'a Path,
    cfg: HaCf,
    errors: Vec<ConfigError>,
    warnings: Vec<Warning>,
    /// First line each directive appeared on (for repeat messages).
    first_seen: BTreeMap<Directive, u32>,
    /// Port and first line of each UDP plugin.
    port_latch: BTreeMap<UdpPlugin, (u16, u32)>,
    /// Baud rate and first line of the serial plugin.
    baud_latch: Option<(u32, u32)>,
    /// Line of the `pacemaker`/`crm` directive.
    pacemaker_line: Option<u32>,
    /// First line of each `apiauth` client.
    apiauth_lines: BTreeMap<String, u32>,
}

impl<'a> Parser<'a> {
    fn new(path: &'a Path) -> Self {
        let mut p = Parser {
            path,
            cfg: HaCf::blank(path),
            errors: Vec::new(),
            warnings: Vec::new(),
            first_seen: BTreeMap::new(),
            port_latch: BTreeMap::new(),
            baud_latch: None,
            pacemaker_line: None,
            apiauth_lines: BTreeMap::new(),
        };
        // Start from the table's fixed defaults, applied by the same code as
        // values from the file; later lines override them.
        for spec in DIRECTIVES.iter().filter(|s| s.alias_of.is_none()) {
            if let DefaultValue::Fixed(value) = spec.default {
                if let Err(msg) = p.apply(spec, value, None) {
                    p.errors.push(ConfigError::file(
                        path,
                        format!("internal error: default '{} {value}': {msg}", spec.name),
                    ));
                }
            }
        }
        p.cfg.set_at.clear();
        p
    }

    fn warn(&mut self, line: Option<u32>, message: impl Into<String>) {
        self.warnings.push(Warning::new(self.path, line, message));
    }

    fn line(&mut self, raw: &str, line: u32) {
        let mut text = raw.trim_start_matches(BLANKS);
        if let Some(i) = text.find('#') {
            text = &text[..i];
        }
        if let Some(i) = text.find(['\r', '\n']) {
            text = &text[..i];
        }
        if text.trim_matches(BLANKS).is_empty() {
            return;
        }
        let name_len = text.find(BLANKS).unwrap_or(text.len());
        let (name, rest) = text.split_at(name_len);
        let rest = rest.trim_start_matches(DELIMS).trim_end_matches(BLANKS);

        let Some(spec) = lookup_directive(name) else {
            self.errors.push(ConfigError::at(
                self.path,
                line,
                unknown_directive_message(name),
            ));
            return;
        };
        if spec.deprecated {
            if let Some(target) = spec.alias_of {
                self.warn(
                    Some(line),
                    format!("'{name}' is an old name for '{target}'; use '{target}'"),
                );
            }
        }
        match spec.arity {
            Arity::EachValue => {
                let values: Vec<&str> = rest.split(DELIMS).filter(|v| !v.is_empty()).collect();
                if values.is_empty() {
                    self.warn(Some(line), format!("'{name}' without a value is ignored"));
                }
                for value in values {
                    self.occurrence(spec, value, line);
                }
            }
            Arity::WholeLine => self.occurrence(spec, rest, line),
        }
    }

    /// Applies one occurrence of a directive read from line `line`, after the
    /// table's repeat rule.
    fn occurrence(&mut self, spec: &'static DirectiveSpec, value: &str, line: u32) {
        let rule = canonical_spec(spec.directive).map_or(spec.repeat, |c| c.repeat);
        if let Some(&first) = self.first_seen.get(&spec.directive) {
            match rule {
                Repeat::Accumulate => {}
                Repeat::LastWins => self.warn(
                    Some(line),
                    format!(
                        "'{}' is set more than once (first on line {first}); the last value wins",
                        spec.name
                    ),
                ),
                Repeat::Once => {
                    self.errors.push(ConfigError::at(
                        self.path,
                        line,
                        format!(
                            "'{}' may be given only once (first on line {first})",
                            spec.name
                        ),
                    ));
                    return;
                }
            }
        } else {
            self.first_seen.insert(spec.directive, line);
        }
        match self.apply(spec, value, Some(line)) {
            Ok(()) => {
                if rule != Repeat::Accumulate {
                    self.cfg.set_at.insert(spec.directive, line);
                }
                if let Some(key) = recorded_parameter(spec.name) {
                    self.cfg
                        .parameters
                        .insert(key.to_string(), value.to_string());
                }
            }
            Err(msg) => self.errors.push(ConfigError::at(
                self.path,
                line,
                format!("{}: {msg}", spec.name),
            )),
        }
    }

    fn time(&mut self, value: &str, line: Option<u32>) -> Result<Duration, String> {
        let (d, unit) = parse_time(value)?;
        if unit == TimeUnit::SecondsSuffix && line.is_some() {
            self.warn(
                line,
                format!(
                    "'{value}': Heartbeat 3 does not accept the 's' suffix; write '{}' \
                     to share this file with Heartbeat nodes",
                    format_duration(d)
                ),
            );
        }
        Ok(d)
    }

    /// Applies one value of a directive; `line` is `None` for table defaults.
    fn apply(
        &mut self,
        spec: &'static DirectiveSpec,
        value: &str,
        line: Option<u32>,
    ) -> Result<(), String> {
        let at = line.unwrap_or(0);
        match spec.directive {
            Directive::UseLogd => self.cfg.use_logd = boolean(value)?,
            Directive::LogFacility => {
                self.cfg.logfacility = match value {
                    "none" => None,
                    // LOG_KERN is 0, which Heartbeat's checks read as "none".
                    "kern" => {
                        self.warn(
                            line,
                            "facility 'kern' has code 0, which Heartbeat treats as 'none'",
                        );
                        None
                    }
                    _ => Some(SyslogFacility::from_name(value).ok_or_else(|| {
                        let names: Vec<&str> =
                            SyslogFacility::ALL.iter().map(|(_, n, _)| *n).collect();
                        format!(
                            "unknown syslog facility '{value}' (expected none or one of: {})",
                            names.join(", ")
                        )
                    })?),
                };
            }
            Directive::LogFile => self.cfg.logfile = Some(PathBuf::from(value)),
            Directive::DebugFile => self.cfg.debugfile = Some(PathBuf::from(value)),
            Directive::Debug => self.cfg.debug = integer(value, 0, 255)? as u8,
            Directive::SyslogMsgFmt => self.cfg.syslogmsgfmt = boolean(value)?,
            Directive::ConnLogdTime => {
                let d = self.time(value, line)?;
                if d.is_zero() {
                    return Err(format!("'{value}' must be more than zero"));
                }
                self.cfg.conn_logd_time = d;
            }
            Directive::LogBadpack => self.cfg.log_badpack = boolean(value)?,
            Directive::Keepalive => {
                let d = self.time(value, line)?;
                if d.is_zero() {
                    return Err(format!("'{value}' must be more than zero"));
                }
                self.cfg.keepalive = d;
            }
            Directive::Warntime => {
                let d = self.time(value, line)?;
                if d.is_zero() {
                    return Err(format!("'{value}' must be more than zero"));
                }
                self.cfg.warntime = d;
            }
            Directive::Deadtime => self.cfg.deadtime = self.time(value, line)?,
            Directive::Initdead => self.cfg.initdead = self.time(value, line)?,
            Directive::Deadping => self.cfg.deadping = self.time(value, line)?,
            Directive::UdpPort => {
                let port = integer(value, 1, 65535)? as u16;
                if line.is_some() && !self.port_latch.is_empty() {
                    let kept: Vec<String> = self
                        .port_latch
                        .iter()
                        .map(|(k, (p, l))| format!("{} (line {l}) keeps port {p}", k.name()))
                        .collect();
                    self.warn(
                        line,
                        format!(
                            "udpport must precede the media that use it: {}",
                            kept.join(", ")
                        ),
                    );
                }
                self.cfg.udpport = port;
            }
            Directive::Baud => {
                let baud = integer(value, 0, u64::from(u32::MAX))?;
                if ![9600, 19200, 38400, 57600, 115200, 230400, 460800].contains(&baud) {
                    return Err(format!(
                        "invalid baud rate '{value}' (expected 9600, 19200, 38400, 57600, \
                         115200, 230400 or 460800)"
                    ));
                }
                if let (Some(_), Some((kept, l))) = (line, self.baud_latch) {
                    self.warn(
                        line,
                        format!(
                            "baud must precede the serial media: \
                             serial (line {l}) keeps {kept} baud"
                        ),
                    );
                }
                self.cfg.baud = baud as u32;
            }
            Directive::Bcast => {
                let port = self.udp_port(UdpPlugin::Bcast, at);
                self.add_medium(
                    at,
                    MediumKind::Bcast {
                        interface: value.to_string(),
                        port,
                    },
                )?;
            }
            Directive::Mcast => self.mcast(value, at)?,
            Directive::Mcast6 => self.mcast6(value, at)?,
            Directive::Ucast => self.ucast(value, at)?,
            Directive::Ucast6 => self.ucast6(value, at)?,
            Directive::Serial => {
                if !value.starts_with('/') {
                    return Err(format!("serial port '{value}' is not a full path name"));
                }
                let baud = match self.baud_latch {
                    Some((b, _)) => b,
                    None => {
                        self.baud_latch = Some((self.cfg.baud, at));
                        self.cfg.baud
                    }
                };
                self.add_medium(
                    at,
                    MediumKind::Serial {
                        device: PathBuf::from(value),
                        baud,
                    },
                )?;
            }
            Directive::Ping => {
                self.count_node()?;
                self.add_medium(
                    at,
                    MediumKind::Ping {
                        host: value.to_string(),
                    },
                )?;
            }
            Directive::Ping6 => {
                self.count_node()?;
                self.add_medium(
                    at,
                    MediumKind::Ping6 {
                        host: value.to_string(),
                    },
                )?;
            }
            Directive::PingGroup => {
                let mut words = value.split(BLANKS).filter(|w| !w.is_empty());
                let name = words
                    .next()
                    .ok_or("missing group name (syntax: ping_group NAME HOST...)")?;
                let hosts: Vec<String> = words.map(str::to_string).collect();
                if hosts.is_empty() {
                    return Err(format!("group '{name}' lists no hosts"));
                }
                self.count_node()?;
                self.add_medium(
                    at,
                    MediumKind::PingGroup {
                        name: name.to_string(),
                        hosts,
                    },
                )?;
            }
            Directive::Node => {
                if value.len() > MAX_NODE_NAME {
                    return Err(format!(
                        "node name '{value}' is longer than {MAX_NODE_NAME} characters"
                    ));
                }
                let name = value.to_ascii_lowercase();
                if self.cfg.nodes.contains(&name) {
                    self.warn(line, format!("node '{name}' is listed more than once"));
                }
                self.count_node()?;
                self.cfg.nodes.push(name);
                self.cfg.node_lines.push(at);
            }
            Directive::Autojoin => {
                self.cfg.autojoin = match value.to_ascii_lowercase().as_str() {
                    "none" => AutoJoin::None,
                    "other" => AutoJoin::Other,
                    "any" => AutoJoin::Any,
                    _ => {
                        return Err(format!(
                            "invalid value '{value}' (expected none, other or any)"
                        ))
                    }
                }
            }
            Directive::Cluster => self.cfg.cluster = value.to_string(),
            Directive::QuorumServer => self.cfg.quorum_server = Some(value.to_string()),
            Directive::Hopfudge => self.cfg.hopfudge = integer(value, 0, 255)? as u8,
            Directive::CrmDaemonDir => {
                self.before_pacemaker(line)?;
                self.cfg.crm_daemon_dir = Some(PathBuf::from(value));
            }
            Directive::CrmdSpawnsPengine => {
                self.before_pacemaker(line)?;
                self.cfg.crmd_spawns_pengine = boolean(value)?;
            }
            Directive::Pacemaker => {
                self.cfg.pacemaker = PacemakerMode::from_value(value).ok_or_else(|| {
                    format!(
                        "invalid value '{value}' (expected on, off, respawn, minimal, manual, \
                         ccm-only, valgrind, or another boolean word)"
                    )
                })?;
                if line.is_some() {
                    self.pacemaker_line = line;
                }
            }
            Directive::AutoFailback => {
                self.cfg.auto_failback = if value.eq_ignore_ascii_case("legacy") {
                    AutoFailback::Legacy
                } else {
                    match crate::hacf::parse_bool(value) {
                        Some(true) => AutoFailback::On,
                        Some(false) => AutoFailback::Off,
                        None => {
                            return Err(format!(
                                "invalid value '{value}' (expected on, off or legacy)"
                            ))
                        }
                    }
                }
            }
            Directive::NiceFailback => {
                let on = boolean(value)?;
                let (mode, word) = if on {
                    (AutoFailback::Off, "off")
                } else {
                    (AutoFailback::Legacy, "legacy")
                };
                self.warn(
                    line,
                    format!(
                        "nice_failback is obsolete: 'nice_failback {value}' is read as \
                         'auto_failback {word}'; use auto_failback on, off or legacy"
                    ),
                );
                self.cfg.auto_failback = mode;
                if let Some(l) = line {
                    self.cfg.set_at.insert(Directive::AutoFailback, l);
                }
            }
            Directive::RecordConfigChanges => self.cfg.record_config_changes = boolean(value)?,
            Directive::RecordPengineInputs => self.cfg.record_pengine_inputs = boolean(value)?,
            Directive::EnableConfigWrites => self.cfg.enable_config_writes = boolean(value)?,
            Directive::Stonith => {
                let (kind, file) = split_word(value);
                if kind.is_empty() {
                    return Err("no STONITH type given (syntax: stonith TYPE CONFIGFILE)".into());
                }
                if file.is_empty() {
                    return Err(format!(
                        "no configuration file given for STONITH type '{kind}'"
                    ));
                }
                self.cfg.stonith.push(StonithConfig::File {
                    line: at,
                    stonith_type: kind.to_string(),
                    config_file: file.to_string(),
                });
            }
            Directive::StonithHost => {
                let (host, rest) = split_word(value);
                let (kind, params) = split_word(rest);
                if host.is_empty() {
                    return Err(
                        "no host given (syntax: stonith_host FROMHOST|* TYPE PARAMS...)".into(),
                    );
                }
                if kind.is_empty() {
                    return Err(format!("no STONITH type given for host '{host}'"));
                }
                self.cfg.stonith.push(StonithConfig::Host {
                    line: at,
                    from_host: host.to_ascii_lowercase(),
                    stonith_type: kind.to_string(),
                    params: params.to_string(),
                });
            }
            Directive::ApiAuth => self.apiauth(value, at)?,
            Directive::Respawn | Directive::Failfast => {
                let failfast = spec.directive == Directive::Failfast;
                let (user, command) = split_word(value);
                if user.is_empty() {
                    return Err(format!(
                        "missing user and command (syntax: {} USER /PATH [ARGS...])",
                        spec.name
                    ));
                }
                if command.is_empty() {
                    return Err(format!("missing command to run as '{user}'"));
                }
                if !command.starts_with('/') {
                    return Err(format!("command '{command}' is not a full path name"));
                }
                let mut words = command.split(BLANKS).filter(|w| !w.is_empty());
                let path = PathBuf::from(words.next().unwrap_or(command));
                self.cfg.children.push(ClientChild {
                    line: at,
                    user: user.to_string(),
                    command: command.to_string(),
                    path,
                    args: words.map(str::to_string).collect(),
                    failfast,
                });
            }
            Directive::Env => {
                let (name, val) = value
                    .split_once('=')
                    .ok_or_else(|| format!("'{value}' is not NAME=VALUE"))?;
                if name.is_empty() {
                    return Err(format!("'{value}' has an empty name"));
                }
                self.cfg.env.push(EnvVar {
                    line: at,
                    name: name.to_string(),
                    value: val.to_string(),
                });
            }
            Directive::Watchdog => self.cfg.watchdog = Some(PathBuf::from(value)),
            Directive::Realtime => self.cfg.realtime = boolean(value)?,
            Directive::Rtprio => self.cfg.rtprio = Some(integer(value, 1, 99)? as u8),
            Directive::Memreserve => {
                self.cfg.memreserve_kb = integer(value, 1, i32::MAX as u64)? as u32
            }
            Directive::Coredumps => self.cfg.coredumps = boolean(value)?,
            Directive::Coreroot => {
                if !value.starts_with('/') {
                    return Err(format!("'{value}' is not an absolute directory"));
                }
                self.cfg.coreroot = Some(PathBuf::from(value));
            }
            Directive::HbGenMethod => {
                self.cfg.hbgenmethod = match value {
                    "file" => GenerationMethod::File,
                    "time" => GenerationMethod::Time,
                    _ => return Err(format!("invalid value '{value}' (expected file or time)")),
                }
            }
            Directive::UuidFrom => {
                self.cfg.uuidfrom = match value {
                    "file" => UuidFrom::File,
                    "nodename" => UuidFrom::Nodename,
                    _ => {
                        return Err(format!(
                            "invalid value '{value}' (expected file or nodename)"
                        ))
                    }
                }
            }
            Directive::MsgFmt => {
                self.cfg.msgfmt = match value {
                    "classic" => MsgFmt::Classic,
                    "netstring" => MsgFmt::Netstring,
                    _ => {
                        return Err(format!(
                            "invalid value '{value}' (expected classic or netstring)"
                        ))
                    }
                }
            }
            Directive::Compression => {
                self.cfg.compression = match value {
                    "zlib" => Compression::Zlib,
                    "bz2" => Compression::Bz2,
                    _ => {
                        return Err(format!(
                            "unknown compression module '{value}' (expected zlib or bz2)"
                        ))
                    }
                }
            }
            Directive::CompressionThreshold => {
                self.cfg.compression_threshold_kb =
                    integer(value, 1, (i32::MAX / 1024) as u64)? as u32
            }
            Directive::TraditionalCompression => self.cfg.traditional_compression = boolean(value)?,
            Directive::MaxRexmitDelay => {
                self.cfg.max_rexmit_delay =
                    Duration::from_millis(integer(value, 1, i32::MAX as u64)?)
            }
            Directive::UseApphbd => self.cfg.use_apphbd = boolean(value)?,
        }
        Ok(())
    }

    fn before_pacemaker(&self, line: Option<u32>) -> Result<(), String> {
        match (line, self.pacemaker_line) {
            (Some(_), Some(p)) => Err(format!(
                "must come before the pacemaker directive (line {p})"
            )),
            _ => Ok(()),
        }
    }

    fn udp_port(&mut self, plugin: UdpPlugin, line: u32) -> u16 {
        let port = self.cfg.udpport;
        self.port_latch.entry(plugin).or_insert((port, line)).0
    }

    fn count_node(&self) -> Result<(), String> {
        if self.cfg.nodes.len() + self.cfg.ping_nodes().len() >= MAX_NODES {
            return Err(format!(
                "too many nodes: at most {MAX_NODES}, ping nodes included"
            ));
        }
        Ok(())
    }

    fn add_medium(&mut self, line: u32, kind: MediumKind) -> Result<(), String> {
        if self.cfg.media.len() >= MAX_MEDIA {
            return Err(format!("too many media: at most {MAX_MEDIA}"));
        }
        self.cfg.media.push(Medium { line, kind });
        Ok(())
    }

    /// Warns about words after a complete media statement; Heartbeat ignores
    /// them.
    fn extra_words(&mut self, name: &str, words: &[&str], used: usize, line: u32) {
        if words.len() > used {
            self.warn(
                Some(line),
                format!(
                    "{name}: extra text '{}' is ignored",
                    words[used..].join(" ")
                ),
            );
        }
    }

    fn mcast(&mut self, value: &str, line: u32) -> Result<(), String> {
        let w: Vec<&str> = value.split(BLANKS).filter(|s| !s.is_empty()).collect();
        if w.is_empty() {
            self.warn(Some(line), "'mcast' without a value is ignored");
            return Ok(());
        }
        let usage = "(syntax: mcast IFACE GROUP PORT TTL LOOP)";
        let dev = w[0];
        let group = *w
            .get(1)
            .ok_or(format!("[{dev}] missing multicast group {usage}"))?;
        let group: Ipv4Addr = group
            .parse()
            .ok()
            .filter(Ipv4Addr::is_multicast)
            .ok_or(format!(
                "[{dev}] bad multicast group '{group}' (expected 224.0.0.0 - 239.255.255.255)"
            ))?;
        let port = *w.get(2).ok_or(format!("[{dev}] missing port {usage}"))?;
        let port = integer(port, 1, 65535).map_err(|e| format!("[{dev}] port: {e}"))? as u16;
        let ttl = *w.get(3).ok_or(format!("[{dev}] missing ttl {usage}"))?;
        let ttl = integer(ttl, 0, 4).map_err(|e| format!("[{dev}] ttl: {e}"))? as u8;
        let lp = *w.get(4).ok_or(format!("[{dev}] missing loop {usage}"))?;
        let lp = integer(lp, 0, 1).map_err(|e| format!("[{dev}] loop: {e}"))? == 1;
        self.extra_words("mcast", &w, 5, line);
        self.add_medium(
            line,
            MediumKind::Mcast {
                interface: dev.to_string(),
                group,
                port,
                ttl,
                loopback: lp,
            },
        )
    }

    fn mcast6(&mut self, value: &str, line: u32) -> Result<(), String> {
        let w: Vec<&str> = value.split(BLANKS).filter(|s| !s.is_empty()).collect();
        let usage = "(syntax: mcast6 IFACE GROUP PORT HOPS LOOP)";
        let dev = *w
            .first()
            .ok_or(format!("statement without device {usage}"))?;
        let group = *w
            .get(1)
            .ok_or(format!("[{dev}] missing multicast group {usage}"))?;
        let group: Ipv6Addr = group.parse().ok().filter(plausible_mcast6).ok_or(format!(
            "[{dev}] bad IPv6 multicast group '{group}' (expected a non-global, \
                 non-reserved scope such as ff12::/16)"
        ))?;
        let port = *w.get(2).ok_or(format!("[{dev}] missing port {usage}"))?;
        let port = integer(port, 1, 65535).map_err(|e| format!("[{dev}] port: {e}"))? as u16;
        let hops = *w.get(3).ok_or(format!("[{dev}] missing hops {usage}"))?;
        let hops = integer(hops, 0, 4).map_err(|e| format!("[{dev}] hops: {e}"))? as u8;
        let lp = *w.get(4).ok_or(format!("[{dev}] missing loop {usage}"))?;
        let lp = integer(lp, 0, 1).map_err(|e| format!("[{dev}] loop: {e}"))? == 1;
        self.extra_words("mcast6", &w, 5, line);
        self.add_medium(
            line,
            MediumKind::Mcast6 {
                interface: dev.to_string(),
                group,
                port,
                hops,
                loopback: lp,
            },
        )
    }

    fn ucast(&mut self, value: &str, line: u32) -> Result<(), String> {
        let w: Vec<&str> = value.split(BLANKS).filter(|s| !s.is_empty()).collect();
        if w.is_empty() {
            self.warn(Some(line), "'ucast' without a value is ignored");
            return Ok(());
        }
        let dev = w[0];
        let peer = *w.get(1).ok_or(format!(
            "[{dev}] missing target IP address/hostname (syntax: ucast IFACE PEER)"
        ))?;
        self.extra_words("ucast", &w, 2, line);
        let port = self.udp_port(UdpPlugin::Ucast, line);
        self.add_medium(
            line,
            MediumKind::Ucast {
                interface: dev.to_string(),
                peer: peer.to_string(),
                port,
            },
        )
    }

    fn ucast6(&mut self, value: &str, line: u32) -> Result<(), String> {
        let w: Vec<&str> = value.split(BLANKS).filter(|s| !s.is_empty()).collect();
        let usage = "(syntax: ucast6 IFACE PEER6[%SCOPE])";
        let dev = *w
            .first()
            .ok_or(format!("statement without device {usage}"))?;
        let text = *w
            .get(1)
            .ok_or(format!("[{dev}] missing IPv6 address {usage}"))?;
        let (addr, scope) = match text.split_once('%') {
            Some((a, s)) => (a, Some(s.to_string())),
            None => (text, None),
        };
        let peer: Ipv6Addr = addr
            .parse()
            .ok()
            .filter(|a: &Ipv6Addr| !a.is_multicast() && !a.is_unspecified() && !a.is_loopback())
            .ok_or(format!(
                "[{dev}] bad address '{text}' (expected a unicast IPv6 address, \
                 not multicast, :: or ::1)"
            ))?;
        self.extra_words("ucast6", &w, 2, line);
        let port = self.udp_port(UdpPlugin::Ucast6, line);
        self.add_medium(
            line,
            MediumKind::Ucast6 {
                interface: dev.to_string(),
                peer,
                scope,
                port,
            },
        )
    }

    fn apiauth(&mut self, value: &str, line: u32) -> Result<(), String> {
        let usage = "(syntax: apiauth CLIENT [uid=U1,U2...] [gid=G1,G2...])";
        let mut words = value.split(BLANKS).filter(|s| !s.is_empty());
        let client = words.next().ok_or(format!("missing client name {usage}"))?;
        if client.len() > MAX_CLIENT_NAME {
            return Err(format!(
                "client name '{client}' is longer than {MAX_CLIENT_NAME} characters"
            ));
        }
        let mut uids = None;
        let mut gids = None;
        for word in words {
            if let Some(list) = word.strip_prefix("uid=") {
                if uids.is_some() {
                    return Err(format!("duplicate uid list for client '{client}'"));
                }
                uids = Some(principals(list, "uid")?);
            } else if let Some(list) = word.strip_prefix("gid=") {
                if gids.is_some() {
                    return Err(format!("duplicate gid list for client '{client}'"));
                }
                gids = Some(principals(list, "gid")?);
            } else {
                return Err(format!(
                    "expected uid=LIST or gid=LIST, found '{word}' {usage}"
                ));
            }
        }
        if uids.is_none() && gids.is_none() {
            return Err(format!(
                "client '{client}' needs a uid list, a gid list, or both {usage}"
            ));
        }
        if let Some(first) = self.apiauth_lines.get(client) {
            return Err(format!(
                "duplicate apiauth for client '{client}' (first on line {first})"
            ));
        }
        self.apiauth_lines.insert(client.to_string(), line);
        self.cfg.apiauth.push(ApiAuth {
            client: client.to_string(),
            uids: uids.unwrap_or_default(),
            gids: gids.unwrap_or_default(),
            source: ApiAuthSource::Line(line),
        });
        Ok(())
    }

    /// Fills in derived defaults and runs Heartbeat's whole-file checks.
    fn finish(mut self) -> Result<(HaCf, Vec<Warning>), Vec<ConfigError>> {
        let path = self.path;
        let line = |p: &Self, d: Directive| p.cfg.line_of(d);

        if self.cfg.media.is_empty() {
            self.errors.push(ConfigError::file(
                path,
                "no heartbeat media defined: add a bcast, mcast, mcast6, ucast, ucast6, serial, \
                 ping, ping6 or ping_group line",
            ));
        }
        if !self.cfg.is_explicit(Directive::Warntime) {
            self.cfg.warntime = self.cfg.deadtime / 2;
        }
        if self.cfg.nodes.is_empty()
            && self.cfg.ping_nodes().is_empty()
            && self.cfg.autojoin != AutoJoin::Any
        {
            self.errors.push(ConfigError::file(
                path,
                "no nodes defined: list every member with 'node NAME' (as `uname -n` prints it), \
                 or set 'autojoin any'",
            ));
        }
        let keepalive = self.cfg.keepalive;
        let deadtime = self.cfg.deadtime;
        if deadtime <= keepalive * 2 {
            let at = line(&self, Directive::Deadtime).or(line(&self, Directive::Keepalive));
            self.errors.push(ConfigError {
                path: path.to_path_buf(),
                line: at,
                message: format!(
                    "deadtime ({}) is too small compared to keepalive ({}): it must be more than \
                     twice keepalive",
                    human(deadtime),
                    human(keepalive)
                ),
            });
        }
        let initdead_explicit = self.cfg.is_explicit(Directive::Initdead);
        if !initdead_explicit {
            self.cfg.initdead = if deadtime > Duration::from_secs(10) {
                deadtime
            } else if deadtime < Duration::from_secs(6) {
                Duration::from_secs(12)
            } else {
                deadtime * 2
            };
        }
        let initdead = self.cfg.initdead;
        let initdead_line = line(&self, Directive::Initdead);
        if initdead < deadtime {
            self.errors.push(ConfigError {
                path: path.to_path_buf(),
                line: initdead_line,
                message: format!(
                    "initdead ({}) is smaller than deadtime ({})",
                    human(initdead),
                    human(deadtime)
                ),
            });
        } else if initdead < Duration::from_secs(10) {
            self.warn(
                initdead_line,
                format!(
                    "initdead ({}) may be too small: it allows for slow network startup and \
                     should be >= deadtime and >= 10 seconds",
                    human(initdead)
                ),
            );
        } else if initdead_explicit && initdead < deadtime * 2 {
            self.warn(
                initdead_line,
                format!(
                    "initdead ({}) is less than twice deadtime ({}), as the ha.cf \
                     documentation recommends",
                    human(initdead),
                    human(deadtime)
                ),
            );
        }
        if !self.cfg.is_explicit(Directive::Deadping) {
            self.cfg.deadping = deadtime;
        } else if self.cfg.deadping <= keepalive * 2 {
            self.errors.push(ConfigError {
                path: path.to_path_buf(),
                line: line(&self, Directive::Deadping),
                message: format!(
                    "deadping ({}) is too small compared to keepalive ({}): it must be more than \
                     twice keepalive",
                    human(self.cfg.deadping),
                    human(keepalive)
                ),
            });
        }
        if self.cfg.is_explicit(Directive::Warntime) {
            let warntime = self.cfg.warntime;
            let at = line(&self, Directive::Warntime);
            if warntime >= deadtime {
                self.warn(
                    at,
                    format!(
                        "warntime ({}) is not below deadtime ({}): no late-heartbeat warning \
                         can come before a node is declared dead",
                        human(warntime),
                        human(deadtime)
                    ),
                );
            } else if warntime <= keepalive {
                self.warn(
                    at,
                    format!(
                        "warntime ({}) is not above keepalive ({}): every heartbeat would be \
                         reported late",
                        human(warntime),
                        human(keepalive)
                    ),
                );
            }
        }
        if self.cfg.auto_failback == AutoFailback::Legacy && self.cfg.manages_resources() {
            self.warn(
                line(&self, Directive::AutoFailback),
                "auto_failback legacy (the default) is deprecated: set 'auto_failback on' or \
                 'auto_failback off'",
            );
        }
        self.check_logging();
        if self.cfg.logfacility.is_some() {
            let devnull = || Some(PathBuf::from("/dev/null"));
            if self.cfg.logfile.is_none() {
                self.cfg.logfile = devnull();
            }
            if self.cfg.debugfile.is_none() {
                self.cfg.debugfile = devnull();
            }
        }
        if self.cfg.manages_resources() && self.cfg.autojoin != AutoJoin::None {
            self.errors.push(ConfigError {
                path: path.to_path_buf(),
                line: line(&self, Directive::Autojoin),
                message: "autojoin conflicts with Heartbeat's own (v1) resource manager: unset \
                          autojoin or enable pacemaker"
                    .into(),
            });
        }
        if !self.cfg.pacemaker.is_enabled() {
            for d in [
                Directive::CrmDaemonDir,
                Directive::CrmdSpawnsPengine,
                Directive::RecordConfigChanges,
                Directive::RecordPengineInputs,
                Directive::EnableConfigWrites,
            ] {
                if let (Some(at), Some(spec)) = (line(&self, d), canonical_spec(d)) {
                    self.warn(
                        Some(at),
                        format!("{} has no effect while pacemaker is off", spec.name),
                    );
                }
            }
        }
        if let Some(pl) = self.pacemaker_line {
            for (client, _, _) in self.cfg.pacemaker.implied_apiauth() {
                if let Some(&at) = self.apiauth_lines.get(*client) {
                    self.errors.push(ConfigError::at(
                        path,
                        at,
                        format!(
                            "apiauth for '{client}' conflicts with the one pacemaker (line {pl}) \
                             adds"
                        ),
                    ));
                }
            }
        }

        self.fill_parameter_defaults();
        if self.errors.is_empty() {
            Ok((self.cfg, self.warnings))
        } else {
            Err(self.errors)
        }
    }

    /// Heartbeat's `check_logd_usage`: with nowhere else to log, logd is
    /// implied; otherwise recommend it, or note what it makes irrelevant.
    /// Completes the parameter table the way Heartbeat does once the file
    /// is read: fixed defaults, the debug level, derived timings in
    /// milliseconds, the UDP port, and /dev/null log files under syslog.
    fn fill_parameter_defaults(&mut self) {
        let cfg = &mut self.cfg;
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        let mut derived = vec![
            ("debug", cfg.debug.to_string()),
            ("warntime", ms(cfg.warntime)),
            ("initdead", ms(cfg.initdead)),
            ("deadping", ms(cfg.deadping)),
            ("udpport", cfg.udpport.to_string()),
        ];
        if cfg.logfacility.is_some() {
            for (key, path) in [("logfile", &cfg.logfile), ("debugfile", &cfg.debugfile)] {
                if let Some(p) = path {
                    derived.push((key, p.display().to_string()));
                }
            }
        }
        let params = &mut cfg.parameters;
        for (key, value) in HEARTBEAT_DEFAULTS {
            params
                .entry((*key).to_string())
                .or_insert_with(|| (*value).to_string());
        }
        for (key, value) in derived {
            params.entry(key.to_string()).or_insert(value);
        }
    }

    fn check_logging(&mut self) {
        let at = self.cfg.line_of(Directive::UseLogd);
        let explicit = at.is_some();
        let mut set = Vec::new();
        if self.cfg.logfile.is_some() {
            set.push("logfile");
        }
        if self.cfg.debugfile.is_some() {
            set.push("debugfile");
        }
        if self.cfg.logfacility.is_some() {
            set.push("logfacility");
        }
        if set.is_empty() {
            if !explicit {
                self.cfg.use_logd = true;
            } else if !self.cfg.use_logd {
                self.errors.push(ConfigError {
                    path: self.path.to_path_buf(),
                    line: at,
                    message: "no logfile, debugfile or logfacility is set and use_logd is off: \
                              Heartbeat would have nowhere to log"
                        .into(),
                });
            }
        } else if !self.cfg.use_logd {
            self.warn(
                at,
                "the logging daemon is disabled; 'use_logd on' is recommended",
            );
        } else {
            self.warn(
                at,
                format!(
                    "use_logd is on, so {} in ha.cf are ignored (logd.cf decides)",
                    set.join("/")
                ),
            );
        }
    }
}

/// Directives whose value Heartbeat records in its parameter table (its
/// `record_value` column), under the key it records them; `crm` is recorded
/// as `pacemaker`.
fn recorded_parameter(name: &str) -> Option<&'static str> {
    const RECORDED: &[&str] = &[
        "cluster",
        "hopfudge",
        "keepalive",
        "deadtime",
        "deadping",
        "initdead",
        "warntime",
        "watchdog",
        "baud",
        "udpport",
        "logfacility",
        "logfile",
        "debugfile",
        "auto_failback",
        "rtprio",
        "hbgenmethod",
        "realtime",
        "debug",
        "msgfmt",
        "use_logd",
        "conn_logd_time",
        "log_badpack",
        "syslogmsgfmt",
        "coredumps",
        "coreroot",
        "crm_daemon_dir",
        "crmd_spawns_pengine",
        "pacemaker",
        "autojoin",
        "uuidfrom",
        "compression",
        "compression_threshold",
        "traditional_compression",
        "max_rexmit_delay",
        "record_config_changes",
        "record_pengine_inputs",
        "enable_config_writes",
        "memreserve",
        "quorum_server",
    ];
    if name == "crm" {
        return Some("pacemaker");
    }
    RECORDED.iter().copied().find(|&r| r == name)
}

/// Heartbeat's fixed defaults, as it records them when ha.cf is silent.
const HEARTBEAT_DEFAULTS: &[(&str, &str)] = &[
    ("cluster", "linux-ha"),
    ("hopfudge", "1"),
    ("keepalive", "1000ms"),
    ("deadtime", "30000ms"),
    ("baud", "19200"),
    ("auto_failback", "legacy"),
    ("hbgenmethod", "file"),
    ("realtime", "true"),
    ("msgfmt", "classic"),
    ("conn_logd_time", "60"),
    ("log_badpack", "true"),
    ("syslogmsgfmt", "true"),
    ("coredumps", "true"),
    ("pacemaker", "false"),
    ("autojoin", "none"),
    ("uuidfrom", "file"),
    ("compression", "zlib"),
    ("compression_threshold", "2"),
    ("traditional_compression", "no"),
    ("max_rexmit_delay", "250"),
    ("record_config_changes", "on"),
    ("record_pengine_inputs", "on"),
    ("enable_config_writes", "on"),
    ("memreserve", "6500"),
];

fn unknown_directive_message(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower != name {
        if let Some(spec) = lookup_directive(&lower) {
            return format!(
                "unknown directive '{name}' (directive names are case-sensitive: did you mean \
                 '{}'?)",
                spec.name
            );
        }
    }
    if NOT_PROVIDED.contains(&name) {
        return format!(
            "unknown directive '{name}' (a Heartbeat plugin or build option this \
             implementation does not provide)"
        );
    }
    format!("unknown directive '{name}'")
}

/// First blank-separated word and the rest (trimmed).
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_matches(BLANKS);
    match text.find(BLANKS) {
        Some(i) => (&text[..i], text[i..].trim_matches(BLANKS)),
        None => (text, ""),
    }
}

fn boolean(value: &str) -> Result<bool, String> {
    crate::hacf::parse_bool(value).ok_or_else(|| {
        format!("invalid boolean '{value}' (expected on/off, yes/no, true/false, y/n or 1/0)")
    })
}

/// A decimal integer in `min..=max`, digits only.
fn integer(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let n = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        value.parse::<u64>().ok()
    } else {
        None
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid value '{value}' (expected an integer from {min} to {max})"
        )),
    }
}

fn principals(list: &str, what: &str) -> Result<Vec<Principal>, String> {
    let mut out = Vec::new();
    for item in list.split(',').filter(|s| !s.is_empty()) {
        if item.starts_with(|c: char| c.is_ascii_digit()) {
            let id = item
                .parse::<u32>()
                .map_err(|_| format!("invalid numeric {what} '{item}'"))?;
            out.push(Principal::Id(id));
        } else {
            out.push(Principal::Name(item.to_string()));
        }
    }
    if out.is_empty() {
        return Err(format!("empty {what} list"));
    }
    Ok(out)
}

/// Heartbeat's plausibility check for IPv6 multicast groups: flags limited
/// to "transient", scope link-, admin-, site- or organization-local, and not
/// all-zero after the prefix.
fn plausible_mcast6(a: &Ipv6Addr) -> bool {
    let o = a.octets();
    o[0] == 0xff
        && o[1] & 0xe0 == 0
        && matches!(o[1] & 0x0f, 0x2 | 0x4 | 0x5 | 0x8)
        && o[2..].iter().any(|b| *b != 0)
}

/// A time for messages: `30s`, `500ms`.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}
