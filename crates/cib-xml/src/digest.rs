//! CIB digests with the same value Pacemaker computes, so digests can be
//! compared across implementations (`cibadmin -5`, `cibadmin -6`,
//! `cib.xml.sig`, the `digest` of a patchset).

use md5::{Digest, Md5};

use crate::doc::{write_pcmk, Format};
use crate::xml::Element;

/// Attributes the versioned digest leaves out, on every element.
pub const VOLATILE_ATTRS: &[&str] = &[
    "crm-debug-origin",
    "cib-last-written",
    "update-origin",
    "update-client",
    "update-user",
];

fn md5_hex(text: &str) -> String {
    let d = Md5::digest(text.as_bytes());
    let mut s = String::with_capacity(32);
    for b in d.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn compact(el: &Element, skip: &[&str]) -> String {
    let mut s = String::new();
    write_pcmk(
        &mut s,
        el,
        &Format {
            pretty: false,
            digest_escaping: true,
            skip_attrs: skip,
        },
    );
    s
}

/// The on-disk digest (`cib.xml.sig`, `cibadmin -5`): MD5 of `" "`, the
/// compact rendering, and `"\n"`.
pub fn on_disk(cib: &Element) -> String {
    let mut s = String::from(" ");
    s.push_str(&compact(cib, &[]));
    s.push('\n');
    md5_hex(&s)
}

/// Compares two dotted version strings numerically, component by
/// component (missing components are 0, non-numbers are 0).
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (x, y) => {
                let x: u64 = x.and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                let y: u64 = y.and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                if x != y {
                    return x.cmp(&y);
                }
            }
        }
    }
}

/// The versioned digest (`cibadmin -6`, patchsets): the on-disk digest for
/// CIBs whose `crm_feature_set` is missing or older than 3.0.5, otherwise
/// MD5 of the compact rendering without [`VOLATILE_ATTRS`].
pub fn versioned(cib: &Element) -> String {
    match cib.attr("crm_feature_set") {
        Some(v) if compare_versions(v, "3.0.5") != std::cmp::Ordering::Less => {
            md5_hex(&compact(cib, VOLATILE_ATTRS))
        }
        _ => on_disk(cib),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::parse_cib;
    use crate::xml::Limits;

    // Expected values computed by Pacemaker 2.1.5's `cibadmin -5` / `-6`
    // on the same text ("" = not checked).
    const CASES: &[(&str, &str, &str)] = &[
        (
            r#"<cib admin_epoch="0" epoch="1" num_updates="0"><configuration><crm_config/><nodes/><resources/><constraints/></configuration><status/></cib>"#,
            "fab689d95795d7df3b6892cff934c1c3",
            "fab689d95795d7df3b6892cff934c1c3",
        ),
        (
            r#"<cib admin_epoch="0" epoch="1"><!-- c --><configuration><crm_config><cluster_property_set id="o"><nvpair id="n" name="x" value="a&lt;b&#9;&#10;é&lt;"/></cluster_property_set></crm_config></configuration></cib>"#,
            "586eaa145a8e5e2616e9ad80af0750c2",
            "586eaa145a8e5e2616e9ad80af0750c2",
        ),
        (
            r#"<cib crm_feature_set="3.16.1" epoch="1" cib-last-written="x"><status><node_state id="1" crm-debug-origin="a"/></status></cib>"#,
            "",
            "b4ad312e3a5d514cc767d85d7ab77f78",
        ),
    ];

    #[test]
    fn matches_pacemaker() {
        for (text, disk, ver) in CASES {
            let cib = parse_cib(text, &Limits::default()).unwrap();
            if !disk.is_empty() {
                assert_eq!(on_disk(&cib), *disk, "{text}");
            }
            assert_eq!(versioned(&cib), *ver, "{text}");
            // Whitespace between elements does not change it.
            let pretty = crate::doc::to_pcmk_pretty(&cib);
            let again = parse_cib(&pretty, &Limits::default()).unwrap();
            assert_eq!(versioned(&again), *ver, "{pretty}");
        }
    }

    #[test]
    fn versioned_digest_ignores_volatile_attributes_from_3_0_5() {
        let a = "<cib crm_feature_set=\"3.16.1\" epoch=\"1\" cib-last-written=\"x\"><status><node_state id=\"1\" crm-debug-origin=\"a\"/></status></cib>";
        let b = "<cib crm_feature_set=\"3.16.1\" epoch=\"1\" cib-last-written=\"y\"><status><node_state id=\"1\" crm-debug-origin=\"b\"/></status></cib>";
        let pa = parse_cib(a, &Limits::default()).unwrap();
        let pb = parse_cib(b, &Limits::default()).unwrap();
        assert_eq!(versioned(&pa), versioned(&pb));
        assert_ne!(on_disk(&pa), on_disk(&pb));
        let old = parse_cib(&a.replace("3.16.1", "3.0.1"), &Limits::default()).unwrap();
        assert_eq!(versioned(&old), on_disk(&old));
    }

    #[test]
    fn compares_versions_numerically() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("3.0.10", "3.0.9"), Greater);
        assert_eq!(compare_versions("3.0", "3.0.0"), Equal);
        assert_eq!(compare_versions("2.9", "3.0.5"), Less);
    }
}
