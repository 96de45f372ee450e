//! Small helpers shared by the phases: truth values, name ordering, keys.

use std::cmp::Ordering;

/// Pacemaker's crm_is_true: "true", "on", "yes", "y", "1" (any case).
pub fn is_true(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        ["true", "on", "yes", "y", "1"]
            .iter()
            .any(|t| v.eq_ignore_ascii_case(t))
    })
}

/// Parses a boolean, None when the text is not a boolean.
pub fn parse_bool(v: &str) -> Option<bool> {
    if is_true(Some(v)) {
        Some(true)
    } else if ["false", "off", "no", "n", "0"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
    {
        Some(false)
    } else {
        None
    }
}

/// Case-insensitive "natural" order where digit runs compare as numbers
/// (node2 < node10), Pacemaker's node-name order.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = parse_digits(&a[si..i]);
            let nb = parse_digits(&b[sj..j]);
            match na.cmp(&nb).then((i - si).cmp(&(j - sj))) {
                Ordering::Equal => {}
                o => return o,
            }
        } else {
            let (x, y) = (a[i].to_ascii_lowercase(), b[j].to_ascii_lowercase());
            if x != y {
                return x.cmp(&y);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).min(1).cmp(&(b.len() - j).min(1))
}

fn parse_digits(d: &[u8]) -> u128 {
    d.iter().fold(0u128, |acc, &c| {
        acc.saturating_mul(10).saturating_add((c - b'0') as u128)
    })
}

/// An operation key: `<rsc>_<task>_<interval ms>`.
pub fn op_key(rsc: &str, task: &str, interval_ms: u64) -> String {
    format!("{rsc}_{task}_{interval_ms}")
}

/// Splits an operation key into (resource, task, interval). Resource ids
/// may contain underscores, so the task is found from the right, allowing
/// for the two-word notify tasks.
pub fn parse_op_key(key: &str) -> Option<(String, String, u64)> {
    let (rest, interval) = key.rsplit_once('_')?;
    let interval: u64 = interval.parse().ok()?;
    // Notification keys: rsc_{pre,post}_notify_task, confirmed-...
    for special in [
        "_pre_notify_",
        "_post_notify_",
        "_confirmed-pre_notify_",
        "_confirmed-post_notify_",
    ] {
        if let Some(pos) = rest.find(special) {
            let rsc = &rest[..pos];
            let task = &rest[pos + 1..];
            return Some((rsc.to_string(), task.to_string(), interval));
        }
    }
    let (rsc, task) = rest.rsplit_once('_')?;
    // Tasks with an underscore: migrate_to, migrate_from.
    if task == "to" || task == "from" {
        if let Some(r) = rsc.strip_suffix("_migrate") {
            return Some((r.to_string(), format!("migrate_{task}"), interval));
        }
    }
    if task == "failcount" {
        if let Some(r) = rsc.strip_suffix("_clear") {
            return Some((r.to_string(), "clear_failcount".into(), interval));
        }
    }
    if task == "delete" {
        if let Some(r) = rsc.strip_suffix("_lrm") {
            return Some((r.to_string(), "lrm_delete".into(), interval));
        }
    }
    Some((rsc.to_string(), task.to_string(), interval))
}

/// strtol of a leading integer (None when no digits).
pub fn scan_leading(s: &str) -> Option<i64> {
    cib_xml::score::scan_int(s)
}

/// The id without a clone instance suffix (`rsc:3` -> `rsc`).
pub fn clone_strip(id: &str) -> &str {
    match id.rfind(':') {
        Some(i) if id[i + 1..].bytes().all(|b| b.is_ascii_digit()) && i + 1 < id.len() => &id[..i],
        _ => id,
    }
}

/// The configured element a clone repeats (its `<primitive>` or `<group>`).
pub fn clone_template(clone_xml: &cib_xml::Element) -> Option<&cib_xml::Element> {
    clone_xml
        .children
        .iter()
        .find(|c| matches!(c.name.as_str(), "primitive" | "group"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("node2", "node10"), Ordering::Less);
        assert_eq!(natural_cmp("Node1", "node1"), Ordering::Equal);
        assert_eq!(natural_cmp("node1", "node1a"), Ordering::Less);
        assert_eq!(natural_cmp("dhcp69", "dhcp180"), Ordering::Less);
        assert_eq!(natural_cmp("007", "7"), Ordering::Greater);
    }

    #[test]
    fn op_keys() {
        assert_eq!(
            parse_op_key("my_rsc_monitor_10000"),
            Some(("my_rsc".into(), "monitor".into(), 10000))
        );
        assert_eq!(
            parse_op_key("vm_migrate_to_0"),
            Some(("vm".into(), "migrate_to".into(), 0))
        );
        assert_eq!(
            parse_op_key("c_pre_notify_start_0"),
            Some(("c".into(), "pre_notify_start".into(), 0))
        );
        assert_eq!(clone_strip("rsc:3"), "rsc");
        assert_eq!(clone_strip("rsc"), "rsc");
    }
}
