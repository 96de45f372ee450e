//! The agent queries (`--list-standards`, `--list-ocf-providers`,
//! `--list-ocf-alternatives`, `--list-agents`, `--show-metadata`): answered
//! from the agent directories lrmd and the fencer use (`lrmapi::agents`,
//! `fencing::exec::AgentDirs`), with no daemon, as Pacemaker's are.

use lrmapi::agents::Roots;

/// The standards listed, in Pacemaker's order; `heartbeat` is added
/// because our lrmd runs Heartbeat v1 resource scripts.
pub const STANDARDS: &[&str] = &["ocf", "lsb", "service", "stonith", "heartbeat"];

/// A parsed `standard:[provider:]type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    /// ocf, lsb, service, stonith or heartbeat (as written).
    pub standard: String,
    /// The OCF provider (only for ocf, where it is required).
    pub provider: Option<String>,
    /// The agent's name.
    pub rtype: String,
}

/// Parses an agent specification as Pacemaker does: `ocf:PROVIDER:TYPE`,
/// `STANDARD:TYPE` for the others (stonith types may contain `/`, as
/// `external/ssh`); `None` when it is not one.
pub fn parse_spec(spec: &str) -> Option<AgentSpec> {
    let (standard, rest) = spec.split_once(':')?;
    if standard.is_empty() || rest.is_empty() {
        return None;
    }
    let ocf = standard.eq_ignore_ascii_case("ocf");
    let (provider, rtype) = match rest.split_once(':') {
        Some((p, t)) if ocf => (Some(p.to_string()), t.to_string()),
        Some(_) => return None,
        None if ocf => return None,
        None => (None, rest.to_string()),
    };
    if rtype.is_empty() || provider.as_deref() == Some("") {
        return None;
    }
    Some(AgentSpec {
        standard: standard.to_string(),
        provider,
        rtype,
    })
}

/// Why an agent query printed nothing: the message, the exit code and
/// Pacemaker's second line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// `crm_resource: ...` text.
    pub message: String,
    /// The exit code.
    pub code: u8,
}

fn nosuch(message: String) -> QueryError {
    QueryError {
        message,
        code: clitools::exit::NOSUCH,
    }
}

/// `--list-ocf-providers`: every provider.
pub fn ocf_providers(roots: &Roots) -> Result<Vec<String>, QueryError> {
    let v = roots.ocf_providers();
    if v.is_empty() {
        return Err(nosuch("No OCF providers found".into()));
    }
    Ok(v)
}

/// `--list-ocf-alternatives TYPE`: the providers having that agent.
pub fn ocf_alternatives(roots: &Roots, rtype: &str) -> Result<Vec<String>, QueryError> {
    let v: Vec<String> = roots
        .ocf_providers()
        .into_iter()
        .filter(|p| roots.ocf_agents(p).iter().any(|a| a == rtype))
        .collect();
    if v.is_empty() {
        return Err(nosuch(format!("No OCF providers found for {rtype}")));
    }
    Ok(v)
}

/// `--list-agents STD` or `ocf:PROVIDER`: for ocf without a provider each
/// provider's agents in turn (as Pacemaker concatenates them); for
/// stonith the cluster-glue plugins, then the fence agents.
pub fn agents(
    roots: &Roots,
    fence: &fencing::exec::AgentDirs,
    spec: &str,
) -> Result<Vec<String>, QueryError> {
    let (standard, provider) = match spec.split_once(':') {
        Some((s, p)) => (s, Some(p)),
        None => (spec, None),
    };
    let std_lc = standard.to_ascii_lowercase();
    let v = match (std_lc.as_str(), provider) {
        ("ocf", Some(p)) => roots.ocf_agents(p),
        ("ocf", None) => roots
            .ocf_providers()
            .iter()
            .flat_map(|p| roots.ocf_agents(p))
            .collect(),
        ("lsb" | "service", None) => roots.scripts("lsb").unwrap_or_default(),
        ("heartbeat", None) => roots.scripts("heartbeat").unwrap_or_default(),
        ("stonith", None) => {
            let (fence_agents, plugins): (Vec<String>, Vec<String>) = fence
                .installed()
                .into_iter()
                .partition(|a| a.starts_with("fence_"));
            plugins.into_iter().chain(fence_agents).collect()
        }
        _ => Vec::new(),
    };
    if v.is_empty() {
        let message = match provider {
            Some(p) => format!("No agents found for standard '{standard}' and provider '{p}'"),
            None => format!("No agents found for standard '{standard}'"),
        };
        return Err(QueryError {
            message,
            code: clitools::exit::ERROR,
        });
    }
    Ok(v)
}

/// What to run for an OCF agent's meta-data: the program and the
/// environment Pacemaker gives it (the instance named after the type).
pub fn ocf_metadata_invocation(
    roots: &Roots,
    provider: &str,
    rtype: &str,
) -> Option<fencing::exec::Invocation> {
    let safe = |s: &str| !s.is_empty() && !s.contains('/') && !s.starts_with('.');
    if !safe(provider) || !safe(rtype) {
        return None;
    }
    Some(fencing::exec::Invocation {
        program: roots.ocf.join("resource.d").join(provider).join(rtype),
        args: vec!["meta-data".into()],
        env: vec![
            ("OCF_ROOT".into(), roots.ocf.display().to_string()),
            ("OCF_RA_VERSION_MAJOR".into(), "1".into()),
            ("OCF_RA_VERSION_MINOR".into(), "1".into()),
            ("OCF_RESOURCE_INSTANCE".into(), rtype.into()),
            ("OCF_RESOURCE_TYPE".into(), rtype.into()),
            ("OCF_RESOURCE_PROVIDER".into(), provider.into()),
        ],
        stdin: String::new(),
    })
}

/// The agent action behind a `--force-*`/`--validate` option (Pacemaker's
/// names: force-check runs monitor, validate runs validate-all).
pub fn forced_action(option: &str) -> &str {
    match option {
        "validate" => "validate-all",
        "force-check" => "monitor",
        o => o.strip_prefix("force-").unwrap_or(o),
    }
}

/// How an OCF agent is run by hand for `action`: the instance's
/// parameters as `OCF_RESKEY_*` with the operation's timeout, as
/// Pacemaker's crm_resource does in-process (no executor involved).
pub fn ocf_action_invocation(
    roots: &Roots,
    rsc_id: &str,
    provider: &str,
    rtype: &str,
    action: &str,
    params: &std::collections::BTreeMap<String, String>,
    timeout_ms: u64,
) -> Option<fencing::exec::Invocation> {
    let mut inv = ocf_metadata_invocation(roots, provider, rtype)?;
    inv.args = vec![action.to_string()];
    for (k, v) in inv.env.iter_mut() {
        if k == "OCF_RESOURCE_INSTANCE" {
            *v = rsc_id.to_string();
        }
    }
    for (k, v) in params {
        inv.env.push((format!("OCF_RESKEY_{k}"), v.clone()));
    }
    inv.env
        .push(("OCF_RESKEY_CRM_meta_timeout".into(), timeout_ms.to_string()));
    Some(inv)
}

/// The agent's `ocf-exit-reason:` text (the last one on stderr), if any.
pub fn exit_reason(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("ocf-exit-reason:"))
        .map(str::trim)
        .rfind(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_as_pacemaker_does() {
        let s = |std: &str, p: Option<&str>, t: &str| {
            Some(AgentSpec {
                standard: std.into(),
                provider: p.map(str::to_string),
                rtype: t.into(),
            })
        };
        let table = [
            ("ocf:heartbeat:Dummy", s("ocf", Some("heartbeat"), "Dummy")),
            ("lsb:ssh", s("lsb", None, "ssh")),
            ("stonith:external/ssh", s("stonith", None, "external/ssh")),
            ("ocf:Dummy", None),
            ("Dummy", None),
            ("lsb:a:b", None),
            ("ocf::Dummy", None),
            (":x", None),
            ("lsb:", None),
        ];
        for (spec, want) in table {
            assert_eq!(parse_spec(spec), want, "{spec}");
        }
    }

    #[test]
    fn unknown_standards_and_providers_are_errors() {
        let roots = Roots {
            ocf: "/nonexistent-ocf".into(),
            lsb: "/nonexistent-lsb".into(),
            heartbeat: "/nonexistent-hb".into(),
        };
        let fence = fencing::exec::AgentDirs {
            fence_agents: "/nonexistent".into(),
            external: "/nonexistent".into(),
            meatware: "/nonexistent".into(),
            glue_share: "/nonexistent".into(),
        };
        let e = agents(&roots, &fence, "nope").unwrap_err();
        assert_eq!(e.message, "No agents found for standard 'nope'");
        assert_eq!(e.code, clitools::exit::ERROR);
        let e = agents(&roots, &fence, "ocf:nope").unwrap_err();
        assert_eq!(
            e.message,
            "No agents found for standard 'ocf' and provider 'nope'"
        );
        let e = ocf_alternatives(&roots, "Dummy").unwrap_err();
        assert_eq!(e.code, clitools::exit::NOSUCH);
        assert_eq!(e.message, "No OCF providers found for Dummy");
        assert!(ocf_metadata_invocation(&roots, "heartbeat", "../x").is_none());
    }

    #[test]
    fn exit_reason_is_the_last_one() {
        assert_eq!(
            exit_reason("x\nocf-exit-reason:a\nocf-exit-reason:b\n"),
            Some("b")
        );
        assert_eq!(exit_reason("nothing\n"), None);
    }

    #[test]
    fn forced_options_name_agent_actions() {
        for (option, action) in [
            ("force-start", "start"),
            ("force-stop", "stop"),
            ("force-check", "monitor"),
            ("validate", "validate-all"),
        ] {
            assert_eq!(forced_action(option), action);
        }
    }
}
