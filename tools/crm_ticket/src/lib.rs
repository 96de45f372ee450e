//! crm_ticket's view of the CIB, without I/O: the tickets (every
//! `status/tickets/ticket_state` and every ticket an `rsc_ticket`
//! constraint names), their one-line summaries, and the new
//! `ticket_state` a change produces. Pacemaker's rules: granting sets
//! `last-granted` to now when the ticket was not granted; revoking (or
//! deleting `granted`) and granting need `--force`.

#![deny(missing_docs)]

use std::collections::BTreeMap;

use cib_xml::time::DateTime;
use cib_xml::Element;

/// One ticket as the cluster sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ticket {
    /// Granted to this site.
    pub granted: bool,
    /// Granted but in standby.
    pub standby: bool,
    /// When it was last granted (seconds since the epoch).
    pub last_granted: Option<i64>,
    /// Every attribute of its `ticket_state` but the id, in order.
    pub state: Vec<(String, String)>,
}

fn is_true(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "on" | "yes" | "y" | "1"
    )
}

/// The `<tickets>` element of the status section.
pub fn tickets_element(cib: &Element) -> Option<&Element> {
    cib.child("status")?.child("tickets")
}

/// The `ticket_state` of ticket `id`.
pub fn ticket_state<'a>(cib: &'a Element, id: &str) -> Option<&'a Element> {
    tickets_element(cib)?
        .children_named("ticket_state")
        .find(|t| t.attr("id") == Some(id))
}

/// Every ticket, by name: those with a state and those only constraints
/// name (never granted).
pub fn tickets(cib: &Element) -> BTreeMap<String, Ticket> {
    let mut out = BTreeMap::new();
    if let Some(ts) = tickets_element(cib) {
        for t in ts.children_named("ticket_state") {
            let Some(id) = t.attr("id") else { continue };
            let mut ticket = Ticket::default();
            for (k, v) in &t.attrs {
                match k.as_str() {
                    "id" => continue,
                    "granted" => ticket.granted = is_true(v),
                    "standby" => ticket.standby = is_true(v),
                    "last-granted" => ticket.last_granted = v.trim().parse().ok(),
                    _ => {}
                }
                ticket.state.push((k.clone(), v.clone()));
            }
            out.insert(id.to_string(), ticket);
        }
    }
    if let Some(cons) = cib.path(&["configuration", "constraints"]) {
        for c in cons.children_named("rsc_ticket") {
            if let Some(t) = c.attr("ticket") {
                out.entry(t.to_string()).or_default();
            }
        }
    }
    out
}

/// The constraints (`rsc_ticket`) on ticket `id`, or on every ticket.
pub fn constraints<'a>(cib: &'a Element, id: Option<&str>) -> Vec<&'a Element> {
    cib.path(&["configuration", "constraints"])
        .map(|c| {
            c.children_named("rsc_ticket")
                .filter(|c| id.is_none() || c.attr("ticket") == id)
                .collect()
        })
        .unwrap_or_default()
}

fn date(t: i64) -> String {
    format!("'{}'", DateTime(t).to_ctime())
}

/// A ticket's line for `--info` (`details`: `--details`; `raw`: `--raw`).
pub fn line(id: &str, t: &Ticket, raw: bool, details: bool) -> String {
    if raw {
        return id.to_string();
    }
    let mut s = format!(
        "{id}\t{} {}",
        if t.granted { "granted" } else { "revoked" },
        if t.standby { "[standby]" } else { "         " }
    );
    if details && !t.state.is_empty() {
        let parts: Vec<String> = t
            .state
            .iter()
            .map(|(k, v)| {
                if k == "last-granted" || k == "expires" {
                    format!("{k}={}", date(v.trim().parse().unwrap_or(0)))
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        s.push_str(&format!(" ({})", parts.join(", ")));
    } else if let Some(lg) = t.last_granted {
        s.push_str(&format!(" last-granted={}", date(lg)));
    }
    s
}

/// The warning printed when a grant or revoke needs `--force`.
pub fn warning(id: &str, grant: bool) -> String {
    if grant {
        format!(
            "This command cannot help you verify whether '{id}' has been already granted elsewhere.\n\
             If you really want to grant '{id}' to this site now, and you know what you are doing,\n\
             please specify --force."
        )
    } else {
        format!(
            "Revoking '{id}' can trigger the specified 'loss-policy'(s) relating to '{id}'.\n\n\
             You can check that with:\ncrm_ticket --ticket {id} --constraints\n\n\
             Otherwise before revoking '{id}', you may want to make '{id}' standby with:\n\
             crm_ticket --ticket {id} --standby\n\n\
             If you really want to revoke '{id}' from this site now, and you know what you are doing,\n\
             please specify --force."
        )
    }
}

/// Whether a change needs `--force`: Some(true) for a grant, Some(false)
/// for a revoke (setting granted false or deleting it), None when not.
pub fn needs_force(set: &[(String, String)], delete: &[String]) -> Option<bool> {
    if let Some((_, v)) = set.iter().find(|(k, _)| k == "granted") {
        return Some(is_true(v));
    }
    if delete.iter().any(|k| k.eq_ignore_ascii_case("granted")) {
        return Some(false);
    }
    None
}

/// The ticket's new `ticket_state` after deleting `delete` and setting
/// `set`, or None when there is no state and nothing to set.
pub fn changed_state(
    cib: &Element,
    id: &str,
    set: &[(String, String)],
    delete: &[String],
    now: i64,
) -> Option<Element> {
    let mut st = match ticket_state(cib, id) {
        Some(s) => s.clone(),
        None if set.is_empty() => return None,
        None => Element::new("ticket_state").with_attr("id", id),
    };
    st.attrs.retain(|(k, _)| !delete.contains(k));
    let was_granted = tickets(cib).get(id).is_some_and(|t| t.granted);
    for (k, v) in set {
        st.set_attr(k, v);
        if k.eq_ignore_ascii_case("granted") && !was_granted && is_true(v) {
            st.set_attr("last-granted", &now.to_string());
        }
    }
    Some(st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cib_xml::doc::parse_cib;
    use cib_xml::Limits;

    fn cib(tickets: &str) -> Element {
        let text = format!(
            r#"<cib><configuration><crm_config/><nodes/><resources/><constraints>
<rsc_ticket id="c1" rsc="r" ticket="ticketB" loss-policy="stop"/></constraints></configuration>
<status>{tickets}</status></cib>"#
        );
        parse_cib(&text, &Limits::default()).expect("parse")
    }

    #[test]
    fn tickets_come_from_states_and_constraints() {
        let c = cib(
            r#"<tickets><ticket_state id="ticketA" granted="true" standby="true" last-granted="0"/></tickets>"#,
        );
        let t = tickets(&c);
        assert_eq!(t.keys().collect::<Vec<_>>(), vec!["ticketA", "ticketB"]);
        assert_eq!(
            line("ticketA", &t["ticketA"], false, false),
            "ticketA\tgranted [standby] last-granted='Thu Jan  1 00:00:00 1970'"
        );
        assert_eq!(
            line("ticketA", &t["ticketA"], false, true),
            "ticketA\tgranted [standby] (granted=true, standby=true, last-granted='Thu Jan  1 00:00:00 1970')"
        );
        assert_eq!(
            line("ticketB", &t["ticketB"], false, true),
            "ticketB\trevoked          "
        );
    }

    #[test]
    fn granting_stamps_last_granted_once() {
        let c = cib("");
        let set = vec![("granted".to_string(), "true".to_string())];
        let st = changed_state(&c, "ticketB", &set, &[], 42).expect("new state");
        assert_eq!(st.attr("last-granted"), Some("42"));
        let c = cib(
            r#"<tickets><ticket_state id="ticketB" granted="true" last-granted="7"/></tickets>"#,
        );
        let st = changed_state(&c, "ticketB", &set, &[], 42).expect("state");
        assert_eq!(st.attr("last-granted"), Some("7"));
        assert_eq!(needs_force(&set, &[]), Some(true));
        assert_eq!(needs_force(&[], &["granted".into()]), Some(false));
        assert_eq!(needs_force(&[("standby".into(), "true".into())], &[]), None);
        // Deleting from a ticket without state changes nothing.
        assert!(changed_state(&cib(""), "ticketB", &[], &["x".into()], 1).is_none());
    }
}
