//! A fencing device as the fencer holds it: the agent, its own parameters,
//! and the `pcmk_*` attributes that say whom it can fence and how
//! (shared/design/CIB-LRM-FENCING.md §3.3). Pure: built from a
//! `stonithapi::DeviceSpec`, whichever way it arrived (CIB or API).

use std::collections::BTreeMap;
use std::time::Duration;

use stonithapi::DeviceSpec;

/// The classic built-in cluster-glue plugins, written natively here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativePlugin {
    /// Claims success for every host (testing only).
    Null,
    /// Reboots a host over ssh (testing only: ssh cannot power off a
    /// hung machine).
    Ssh,
    /// The node fences itself.
    Suicide,
    /// Waits for an operator's `meatclient -c NODE`.
    Meatware,
}

impl NativePlugin {
    /// The plugin's name.
    pub fn name(self) -> &'static str {
        match self {
            NativePlugin::Null => "null",
            NativePlugin::Ssh => "ssh",
            NativePlugin::Suicide => "suicide",
            NativePlugin::Meatware => "meatware",
        }
    }

    /// Every native plugin.
    pub const ALL: [NativePlugin; 4] = [
        NativePlugin::Meatware,
        NativePlugin::Null,
        NativePlugin::Ssh,
        NativePlugin::Suicide,
    ];
}

/// Which kind of program an agent name means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentKind {
    /// A Red Hat style fence agent `fence_*` (options on stdin).
    FenceAgent(String),
    /// A cluster-glue `external/NAME` script (options in the environment).
    External(String),
    /// A native plugin.
    Native(NativePlugin),
}

impl AgentKind {
    /// Classifies an agent name; `None` for a name that is none of these
    /// or could leave the agent directories.
    pub fn parse(agent: &str) -> Option<AgentKind> {
        let safe = |s: &str| !s.is_empty() && !s.contains('/') && s != "." && s != "..";
        if let Some(name) = agent.strip_prefix("external/") {
            return safe(name).then(|| AgentKind::External(name.to_string()));
        }
        if agent.starts_with("fence_") && safe(agent) {
            return Some(AgentKind::FenceAgent(agent.to_string()));
        }
        NativePlugin::ALL
            .into_iter()
            .find(|p| p.name() == agent)
            .map(AgentKind::Native)
    }
}

/// How the fencer decides whether a device can fence a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCheck {
    /// `pcmk_host_list` / `pcmk_host_map`.
    StaticList,
    /// Ask the agent's `list` (external plugins: `gethosts`).
    DynamicList,
    /// Ask the agent's `status` for the target.
    Status,
    /// It can fence anyone.
    None,
}

/// Why a device specification was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceError {
    /// The agent name is not a fence agent, external plugin or native plugin.
    UnknownAgent(String),
    /// An attribute's value is malformed.
    BadAttribute(String, String),
    /// An empty id.
    EmptyId,
}

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceError::UnknownAgent(a) => write!(f, "Agent {a} not found"),
            DeviceError::BadAttribute(k, v) => write!(f, "invalid value '{v}' for {k}"),
            DeviceError::EmptyId => f.write_str("a device needs an id"),
        }
    }
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its id.
    pub id: String,
    /// The agent's name as configured.
    pub agent: String,
    /// The agent's kind.
    pub kind: AgentKind,
    /// Parameters passed to the agent (everything but `pcmk_*`,
    /// `CRM_meta*`, `action`, `crm_feature_set`, `priority`).
    pub params: BTreeMap<String, String>,
    /// `pcmk_host_list`.
    pub host_list: Vec<String>,
    /// `pcmk_host_map`: node name to the agent's name for it (port).
    pub host_map: BTreeMap<String, String>,
    /// `pcmk_host_check`, `None` when not configured (then derived from
    /// the agent's abilities, see [`Device::host_check`]).
    pub host_check: Option<HostCheck>,
    /// `pcmk_host_argument`: `None` = the agent's default (`port`/`plug`),
    /// `Some("none")` = do not send the target.
    pub host_argument: Option<String>,
    /// `pcmk_<action>_action` substitutions.
    pub action_map: BTreeMap<String, String>,
    /// `pcmk_<action>_timeout`.
    pub timeouts: BTreeMap<String, Duration>,
    /// `pcmk_delay_base`.
    pub delay_base: Duration,
    /// `pcmk_delay_max`.
    pub delay_max: Duration,
    /// `priority`: higher is tried first when there is no topology.
    pub priority: i32,
    /// `pcmk_action_limit`: how many actions may run on the device at
    /// once (default 1; `None`: unlimited, configured as -1).
    pub action_limit: Option<u32>,
    /// meta `provides=unfencing`.
    pub provides_unfencing: bool,
}

/// Parses a Pacemaker duration: plain seconds, or with `ms`, `s`, `m`,
/// `min`, `h` (also ISO-less `30sec`). `None` if malformed.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "s" | "sec" | "secs" => n.checked_mul(1000)?,
        "ms" | "msec" | "msecs" => n,
        "m" | "min" | "mins" => n.checked_mul(60_000)?,
        "h" | "hr" | "hrs" => n.checked_mul(3_600_000)?,
        "us" | "usec" => n / 1000,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

/// Splits `pcmk_host_list`: whitespace, `,` and `;` separate names.
pub fn parse_host_list(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses `pcmk_host_map`: `node:port;node2:port2` (`=` too; `;`, spaces
/// and tabs separate entries; `\` escapes the next character).
pub fn parse_host_map(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut entries = Vec::new();
    let mut cur = String::new();
    let mut escaped_sep = Vec::new(); // positions of escaped ':'/'=' to keep
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    if n == ':' || n == '=' {
                        escaped_sep.push((entries.len(), cur.len()));
                    }
                    cur.push(n);
                }
            }
            ';' | ' ' | '\t' | '\n' | ',' => {
                if !cur.is_empty() {
                    entries.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        entries.push(cur);
    }
    for (i, e) in entries.iter().enumerate() {
        let sep = e
            .char_indices()
            .find(|(pos, c)| (*c == ':' || *c == '=') && !escaped_sep.contains(&(i, *pos)))
            .map(|(pos, _)| pos);
        match sep {
            Some(p) if p > 0 && p + 1 < e.len() => {
                out.insert(e[..p].to_string(), e[p + 1..].to_string());
            }
            _ => return Err(format!("entry '{e}' is not NODE:PORT")),
        }
    }
    Ok(out)
}

fn is_fencer_attribute(k: &str) -> bool {
    k.starts_with("pcmk_")
        || k.starts_with("CRM_meta")
        || k == "action"
        || k == "crm_feature_set"
        || k == "priority"
        || k == "provides"
}

impl Device {
    /// Builds a device from its specification. `provides` is the meta
    /// attribute (CIB) or the parameter of the same name (API).
    pub fn new(spec: &DeviceSpec) -> Result<Device, DeviceError> {
        if spec.id.trim().is_empty() {
            return Err(DeviceError::EmptyId);
        }
        let kind = AgentKind::parse(&spec.agent)
            .ok_or_else(|| DeviceError::UnknownAgent(spec.agent.clone()))?;
        let p = &spec.params;
        let bad = |k: &str, v: &str| DeviceError::BadAttribute(k.to_string(), v.to_string());
        let host_list = p
            .get("pcmk_host_list")
            .map(|v| parse_host_list(v))
            .unwrap_or_default();
        let host_map = match p.get("pcmk_host_map") {
            Some(v) => parse_host_map(v).map_err(|_| bad("pcmk_host_map", v))?,
            None => BTreeMap::new(),
        };
        let host_check = match p.get("pcmk_host_check").map(String::as_str) {
            None => None,
            Some("static-list") => Some(HostCheck::StaticList),
            Some("dynamic-list") => Some(HostCheck::DynamicList),
            Some("status") => Some(HostCheck::Status),
            Some("none") => Some(HostCheck::None),
            Some(v) => return Err(bad("pcmk_host_check", v)),
        };
        let mut action_map = BTreeMap::new();
        let mut timeouts = BTreeMap::new();
        for (k, v) in p {
            let Some(rest) = k.strip_prefix("pcmk_") else {
                continue;
            };
            if let Some(action) = rest.strip_suffix("_action") {
                if !v.is_empty() {
                    action_map.insert(action.to_string(), v.clone());
                }
            } else if let Some(action) = rest.strip_suffix("_timeout") {
                let d = parse_duration(v).ok_or_else(|| bad(k, v))?;
                timeouts.insert(action.to_string(), d);
            }
        }
        let dur = |k: &str| -> Result<Duration, DeviceError> {
            match p.get(k) {
                None => Ok(Duration::ZERO),
                Some(v) => parse_duration(v).ok_or_else(|| bad(k, v)),
            }
        };
        // pcmk_delay_base may be a per-node map; only the plain form is
        // understood here, a map means no static delay.
        let delay_base = match p.get("pcmk_delay_base") {
            Some(v) if v.contains(':') => Duration::ZERO,
            _ => dur("pcmk_delay_base")?,
        };
        let delay_max = dur("pcmk_delay_max")?;
        let priority = match p.get("priority") {
            None => 0,
            Some(v) => v.trim().parse().map_err(|_| bad("priority", v))?,
        };
        let action_limit = match p.get("pcmk_action_limit").map(|v| v.trim()) {
            None => Some(1),
            Some("-1") => None,
            Some(v) => match v.parse::<u32>() {
                Ok(n) => Some(n.max(1)),
                Err(_) => return Err(bad("pcmk_action_limit", v)),
            },
        };
        let provides_unfencing = p
            .get("provides")
            .is_some_and(|v| v.split_whitespace().any(|w| w == "unfencing"));
        let params = p
            .iter()
            .filter(|(k, _)| !is_fencer_attribute(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Device {
            id: spec.id.clone(),
            agent: spec.agent.clone(),
            kind,
            params,
            host_list,
            host_map,
            host_check,
            host_argument: p.get("pcmk_host_argument").cloned(),
            action_map,
            timeouts,
            delay_base,
            delay_max: delay_max.max(delay_base),
            priority,
            action_limit,
            provides_unfencing,
        })
    }

    /// The host check in force: the configured one, else `static-list`
    /// when a list or map is set, else `dynamic-list` when the agent can
    /// list, else `status` when it has a status action, else `none`.
    pub fn host_check(&self, agent_can_list: bool, agent_has_status: bool) -> HostCheck {
        if let Some(c) = self.host_check {
            return c;
        }
        if !self.host_list.is_empty() || !self.host_map.is_empty() {
            HostCheck::StaticList
        } else if agent_can_list {
            HostCheck::DynamicList
        } else if agent_has_status {
            HostCheck::Status
        } else {
            HostCheck::None
        }
    }

    /// Whether a static list or map names `target`.
    pub fn statically_lists(&self, target: &str) -> bool {
        self.host_list
            .iter()
            .any(|h| h.eq_ignore_ascii_case(target))
            || self.host_map.keys().any(|h| h.eq_ignore_ascii_case(target))
    }

    /// The agent's name for `target`: its `pcmk_host_map` alias or itself.
    pub fn port_for<'a>(&'a self, target: &'a str) -> &'a str {
        self.host_map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(target))
            .map(|(_, v)| v.as_str())
            .unwrap_or(target)
    }

    /// The action sent to the agent for `action` (`pcmk_<action>_action`).
    pub fn agent_action<'a>(&'a self, action: &'a str) -> &'a str {
        self.action_map
            .get(action)
            .map(String::as_str)
            .unwrap_or(action)
    }

    /// The timeout of `action`: `pcmk_<action>_timeout`, else the
    /// request's.
    pub fn timeout(&self, action: &str, requested: Duration) -> Duration {
        self.timeouts.get(action).copied().unwrap_or(requested)
    }

    /// The delay before the first device of an operation runs: base plus
    /// `random % (max - base)` where `random` comes from the caller.
    pub fn delay(&self, random: u64) -> Duration {
        let span = self.delay_max.saturating_sub(self.delay_base).as_millis() as u64;
        let extra = if span == 0 { 0 } else { random % span };
        self.delay_base + Duration::from_millis(extra)
    }

    /// Whether this device's on-phase of a multi-device reboot is skipped
    /// (its reboot is configured as a plain off).
    pub fn skips_on_phase(&self) -> bool {
        self.action_map.get("reboot").is_some_and(|a| a == "off")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(agent: &str, params: &[(&str, &str)]) -> DeviceSpec {
        DeviceSpec {
            id: "d1".into(),
            agent: agent.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn agent_names_are_classified() {
        let table: &[(&str, Option<AgentKind>)] = &[
            (
                "fence_dummy",
                Some(AgentKind::FenceAgent("fence_dummy".into())),
            ),
            ("external/ssh", Some(AgentKind::External("ssh".into()))),
            ("null", Some(AgentKind::Native(NativePlugin::Null))),
            ("meatware", Some(AgentKind::Native(NativePlugin::Meatware))),
            ("external/../x", None),
            ("external/", None),
            ("fence_../x", None),
            ("apcmaster", None),
        ];
        for (name, want) in table {
            assert_eq!(&AgentKind::parse(name), want, "{name}");
        }
    }

    #[test]
    fn host_lists_and_maps_parse_as_pacemaker_writes_them() {
        assert_eq!(
            parse_host_list("n1 n2,n3;n4\nn5"),
            ["n1", "n2", "n3", "n4", "n5"]
        );
        let m = parse_host_map("n1:1;n2=2 n3:plug\\:3").unwrap();
        assert_eq!(m.get("n1").map(String::as_str), Some("1"));
        assert_eq!(m.get("n2").map(String::as_str), Some("2"));
        assert_eq!(m.get("n3").map(String::as_str), Some("plug:3"));
        assert!(parse_host_map("n1").is_err());
        assert!(parse_host_map(":3").is_err());
    }

    #[test]
    fn durations() {
        let table = [
            ("60", Some(60_000)),
            ("60s", Some(60_000)),
            ("500ms", Some(500)),
            ("2min", Some(120_000)),
            ("1h", Some(3_600_000)),
            ("x", None),
            ("5 parsecs", None),
        ];
        for (s, want) in table {
            assert_eq!(parse_duration(s).map(|d| d.as_millis() as u64), want, "{s}");
        }
    }

    #[test]
    fn pcmk_attributes_are_taken_out_of_the_agent_parameters() {
        let d = Device::new(&spec(
            "fence_dummy",
            &[
                ("pcmk_host_list", "n1,n2"),
                ("pcmk_reboot_action", "off"),
                ("pcmk_off_timeout", "5s"),
                ("pcmk_delay_max", "3"),
                ("priority", "7"),
                ("status_file", "/tmp/x"),
                ("provides", "unfencing"),
            ],
        ))
        .unwrap();
        assert_eq!(d.params.len(), 1);
        assert_eq!(d.params["status_file"], "/tmp/x");
        assert_eq!(d.host_list, ["n1", "n2"]);
        assert_eq!(d.agent_action("reboot"), "off");
        assert_eq!(d.agent_action("on"), "on");
        assert!(d.skips_on_phase());
        assert_eq!(
            d.timeout("off", Duration::from_secs(60)),
            Duration::from_secs(5)
        );
        assert_eq!(
            d.timeout("on", Duration::from_secs(60)),
            Duration::from_secs(60)
        );
        assert_eq!(d.priority, 7);
        assert_eq!(d.action_limit, Some(1));
        let unlimited = Device::new(&spec("fence_dummy", &[("pcmk_action_limit", "-1")])).unwrap();
        assert_eq!(unlimited.action_limit, None);
        let three = Device::new(&spec("fence_dummy", &[("pcmk_action_limit", "3")])).unwrap();
        assert_eq!(three.action_limit, Some(3));
        assert!(Device::new(&spec("fence_dummy", &[("pcmk_action_limit", "x")])).is_err());
        assert!(d.provides_unfencing);
        assert_eq!(d.delay(1500), Duration::from_millis(1500));
        assert_eq!(d.delay(3000), Duration::ZERO);
    }

    #[test]
    fn host_check_defaults() {
        let listed = Device::new(&spec("fence_dummy", &[("pcmk_host_map", "n1:1")])).unwrap();
        assert_eq!(listed.host_check(true, true), HostCheck::StaticList);
        assert!(listed.statically_lists("N1"));
        assert_eq!(listed.port_for("n1"), "1");
        assert_eq!(listed.port_for("n2"), "n2");
        let bare = Device::new(&spec("fence_dummy", &[])).unwrap();
        assert_eq!(bare.host_check(true, true), HostCheck::DynamicList);
        assert_eq!(bare.host_check(false, true), HostCheck::Status);
        assert_eq!(bare.host_check(false, false), HostCheck::None);
        let forced = Device::new(&spec(
            "fence_dummy",
            &[("pcmk_host_list", "n1"), ("pcmk_host_check", "none")],
        ))
        .unwrap();
        assert_eq!(forced.host_check(true, true), HostCheck::None);
    }

    #[test]
    fn bad_specifications_are_refused_with_the_reason() {
        assert_eq!(
            Device::new(&spec("fence_dummy", &[("pcmk_host_check", "maybe")])),
            Err(DeviceError::BadAttribute(
                "pcmk_host_check".into(),
                "maybe".into()
            ))
        );
        assert!(Device::new(&spec("fence_dummy", &[("pcmk_off_timeout", "soon")])).is_err());
        assert!(Device::new(&spec("fence_dummy", &[("priority", "high")])).is_err());
        assert_eq!(
            Device::new(&spec("apcmaster", &[])),
            Err(DeviceError::UnknownAgent("apcmaster".into()))
        );
    }
}
