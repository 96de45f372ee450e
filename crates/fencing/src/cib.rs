//! What the fencer reads from the CIB: stonith primitives (with their
//! instance and meta attributes and recurring monitor), the
//! fencing-topology levels, node attributes (for levels by attribute),
//! and location bans (a device is not run on a node that bans it). Pure:
//! XML text in, configuration out.
//!
//! Only plain `nvpair`s are read (rules inside attribute sets are not
//! evaluated), and only `rsc_location` constraints with a `node` and a
//! `-INFINITY` score count as bans, the common way to keep a device off
//! a node.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cib_xml::{Element, Limits};
use stonithapi::{DeviceSpec, LevelSpec, LevelTarget};

use crate::device::parse_duration;
use crate::topology::parse_devices;

/// A stonith primitive of the CIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibDevice {
    /// The device (meta `provides` folded into the parameters).
    pub spec: DeviceSpec,
    /// Nodes with a `-INFINITY` location for it.
    pub banned: BTreeSet<String>,
    /// `target-role=Stopped`: not registered anywhere.
    pub disabled: bool,
    /// Its recurring monitor's interval, if it has one.
    pub monitor: Option<Duration>,
}

/// The fencing configuration of a CIB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FencingConfig {
    /// Stonith primitives, in document order.
    pub devices: Vec<CibDevice>,
    /// Fencing levels.
    pub levels: Vec<LevelSpec>,
    /// Permanent node attributes by node name.
    pub node_attrs: BTreeMap<String, BTreeMap<String, String>>,
    /// Node name by CIB node id (for `nodeid=`).
    pub node_ids: BTreeMap<String, String>,
    /// Levels that were not understood, with why.
    pub warnings: Vec<String>,
}

fn nvpairs(set: &Element, out: &mut BTreeMap<String, String>) {
    for nv in set.children_named("nvpair") {
        if let (Some(n), Some(v)) = (nv.attr("name"), nv.attr("value")) {
            out.insert(n.to_string(), v.to_string());
        }
    }
}

fn collect_primitives<'a>(e: &'a Element, out: &mut Vec<&'a Element>) {
    for c in &e.children {
        if c.name == "primitive" {
            if c.attr("class") == Some("stonith") {
                out.push(c);
            }
        } else {
            collect_primitives(c, out);
        }
    }
}

/// Reads the fencing configuration from a CIB's XML text.
pub fn read(cib_text: &str) -> Result<FencingConfig, String> {
    let doc = cib_xml::doc::parse_cib(cib_text, &Limits::default()).map_err(|e| e.to_string())?;
    Ok(from_element(&doc))
}

/// Reads the fencing configuration from a parsed CIB.
pub fn from_element(doc: &Element) -> FencingConfig {
    let mut cfg = FencingConfig::default();
    let Some(conf) = doc.child("configuration") else {
        return cfg;
    };
    let mut bans: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if let Some(cons) = conf.child("constraints") {
        for loc in cons.children_named("rsc_location") {
            let (Some(rsc), Some(node), Some(score)) =
                (loc.attr("rsc"), loc.attr("node"), loc.attr("score"))
            else {
                continue;
            };
            if score.trim() == "-INFINITY" || score.trim() == "-inf" {
                bans.entry(rsc.to_string())
                    .or_default()
                    .insert(node.to_string());
            }
        }
    }
    if let Some(rscs) = conf.child("resources") {
        let mut prims = Vec::new();
        collect_primitives(rscs, &mut prims);
        for p in prims {
            let id = p.id().to_string();
            let mut params = BTreeMap::new();
            for set in p.children_named("instance_attributes") {
                nvpairs(set, &mut params);
            }
            let mut meta = BTreeMap::new();
            for set in p.children_named("meta_attributes") {
                nvpairs(set, &mut meta);
            }
            if let Some(v) = meta.get("provides") {
                params.insert("provides".into(), v.clone());
            }
            let disabled = meta
                .get("target-role")
                .is_some_and(|r| r.eq_ignore_ascii_case("stopped"));
            let monitor = p
                .child("operations")
                .into_iter()
                .flat_map(|ops| ops.children_named("op"))
                .find(|op| op.attr("name") == Some("monitor"))
                .and_then(|op| op.attr("interval"))
                .and_then(parse_duration)
                .filter(|d| !d.is_zero());
            cfg.devices.push(CibDevice {
                spec: DeviceSpec {
                    id: id.clone(),
                    agent: p.attr("type").unwrap_or_default().to_string(),
                    params,
                },
                banned: bans.remove(&id).unwrap_or_default(),
                disabled,
                monitor,
            });
        }
    }
    if let Some(topo) = conf.child("fencing-topology") {
        for l in topo.children_named("fencing-level") {
            let target = if let Some(t) = l.attr("target") {
                LevelTarget::Node(t.to_string())
            } else if let Some(p) = l.attr("target-pattern") {
                LevelTarget::Pattern(p.to_string())
            } else if let (Some(a), Some(v)) = (l.attr("target-attribute"), l.attr("target-value"))
            {
                LevelTarget::Attribute(a.to_string(), v.to_string())
            } else {
                cfg.warnings
                    .push(format!("fencing-level {} has no target", l.id()));
                continue;
            };
            let Some(index) = l.attr("index").and_then(|i| i.trim().parse().ok()) else {
                cfg.warnings
                    .push(format!("fencing-level {} has no valid index", l.id()));
                continue;
            };
            cfg.levels.push(LevelSpec {
                target,
                index,
                devices: parse_devices(l.attr("devices").unwrap_or_default()),
            });
        }
    }
    if let Some(nodes) = conf.child("nodes") {
        for n in nodes.children_named("node") {
            let Some(uname) = n.attr("uname") else {
                continue;
            };
            cfg.node_ids.insert(n.id().to_string(), uname.to_string());
            let mut attrs = BTreeMap::new();
            for set in n.children_named("instance_attributes") {
                nvpairs(set, &mut attrs);
            }
            cfg.node_attrs.insert(uname.to_string(), attrs);
        }
    }
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIB: &str = r#"<cib admin_epoch="0" epoch="3" num_updates="0" validate-with="pacemaker-3.9">
  <configuration>
    <crm_config/>
    <nodes>
      <node id="u1" uname="n1"><instance_attributes id="n1-ia">
        <nvpair id="n1-rack" name="rack" value="2"/></instance_attributes></node>
      <node id="u2" uname="n2"/>
    </nodes>
    <resources>
      <primitive id="ipmi-n3" class="stonith" type="fence_dummy">
        <instance_attributes id="i1">
          <nvpair id="i1-a" name="pcmk_host_list" value="n3"/>
          <nvpair id="i1-b" name="status_file" value="/tmp/s"/>
        </instance_attributes>
        <meta_attributes id="m1"><nvpair id="m1-a" name="provides" value="unfencing"/></meta_attributes>
        <operations><op id="o1" name="monitor" interval="60s"/></operations>
      </primitive>
      <primitive id="web" class="ocf" provider="heartbeat" type="Dummy"/>
      <group id="g"><primitive id="off-dev" class="stonith" type="external/ssh">
        <meta_attributes id="m2"><nvpair id="m2-a" name="target-role" value="Stopped"/></meta_attributes>
      </primitive></group>
    </resources>
    <constraints>
      <rsc_location id="l1" rsc="ipmi-n3" node="n1" score="-INFINITY"/>
      <rsc_location id="l2" rsc="ipmi-n3" node="n2" score="100"/>
    </constraints>
    <fencing-topology>
      <fencing-level id="f1" target="n3" index="1" devices="ipmi-n3"/>
      <fencing-level id="f2" target-pattern="^n[0-9]$" index="2" devices="psu:1, psu:2"/>
      <fencing-level id="f3" target-attribute="rack" target-value="2" index="1" devices="sw"/>
      <fencing-level id="f4" index="1" devices="sw"/>
    </fencing-topology>
  </configuration>
  <status/>
</cib>"#;

    #[test]
    fn stonith_primitives_levels_and_bans_are_read() {
        let cfg = read(CIB).unwrap();
        assert_eq!(cfg.devices.len(), 2);
        let d = &cfg.devices[0];
        assert_eq!(d.spec.id, "ipmi-n3");
        assert_eq!(d.spec.agent, "fence_dummy");
        assert_eq!(d.spec.params["pcmk_host_list"], "n3");
        assert_eq!(d.spec.params["provides"], "unfencing");
        assert_eq!(d.banned, BTreeSet::from(["n1".to_string()]));
        assert_eq!(d.monitor, Some(Duration::from_secs(60)));
        assert!(!d.disabled);
        assert!(cfg.devices[1].disabled);
        assert_eq!(cfg.levels.len(), 3);
        assert_eq!(cfg.levels[1].devices, ["psu:1", "psu:2"]);
        assert_eq!(
            cfg.levels[2].target,
            LevelTarget::Attribute("rack".into(), "2".into())
        );
        assert_eq!(cfg.warnings, ["fencing-level f4 has no target"]);
        assert_eq!(cfg.node_attrs["n1"]["rack"], "2");
        assert_eq!(cfg.node_ids["u2"], "n2");
    }

    #[test]
    fn a_cib_without_configuration_has_no_devices() {
        assert_eq!(read("<cib/>").unwrap(), FencingConfig::default());
        assert!(read("<cib").is_err());
    }
}
