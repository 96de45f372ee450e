//! The bridge between the client API and the pure CIB operations: a
//! `cibapi::OpRequest` (XML as text) runs against the current CIB through
//! `cib_xml::ops::perform`, and the outcome or refusal becomes what the
//! client is told. Pure: no I/O.

use cib_xml::doc::{parse_cib, to_pcmk_pretty, write_pcmk, Format};
use cib_xml::ops::{self, Op, OpError, Outcome, Request};
use cib_xml::patch::Patch;
use cib_xml::version::Change;
use cib_xml::{Element, Limits};
use cibapi::{Failure, OpKind, OpRequest, Response, Version};

/// What a request did.
#[derive(Debug)]
pub enum Done {
    /// A read: the answer.
    Answer(Response),
    /// A write that changed the CIB: the new document and its patch.
    Changed {
        /// The new CIB.
        cib: Element,
        /// The patchset from the old CIB (with the new digest).
        patch: Box<Patch>,
        /// Whether the configuration section changed (a disk write is due).
        config: bool,
    },
    /// A write that changed nothing.
    Unchanged,
}

/// The client API's version type from the document model's.
pub fn api_version(v: cib_xml::version::Version) -> Version {
    Version {
        admin_epoch: v.admin_epoch,
        epoch: v.epoch,
        num_updates: v.num_updates,
    }
}

/// The version of a `<cib>`.
pub fn version_of(cib: &Element) -> Version {
    api_version(cib_xml::version::Version::of(cib))
}

fn op_of(k: OpKind) -> Op {
    match k {
        OpKind::Query => Op::Query,
        OpKind::Create => Op::Create,
        OpKind::Modify => Op::Modify,
        OpKind::Replace => Op::Replace,
        OpKind::Delete => Op::Delete,
        OpKind::Erase => Op::Erase,
        OpKind::Bump => Op::Bump,
        OpKind::Upgrade => Op::Upgrade,
        OpKind::Patch => Op::Patch,
    }
}

/// A refusal as the client sees it.
pub fn failure(e: &OpError) -> Failure {
    Failure {
        code: e.exit_code(),
        reason: e.reason().to_string(),
        message: e.message.clone(),
        failed: e.failed.as_deref().map(to_pcmk_pretty),
        dump: e.candidate.as_deref().map(ops::numbered_dump),
    }
}

/// A refusal that is not one of the operations' own (bad input, not
/// master, ...), with an exit code of Pacemaker's.
pub fn refusal(code: i32, reason: &str, message: impl Into<String>) -> Failure {
    Failure {
        code,
        reason: reason.to_string(),
        message: message.into(),
        failed: None,
        dump: None,
    }
}

/// Runs `req` against `current`; `current` is never changed.
pub fn run(current: &Element, req: &OpRequest) -> Result<Done, Failure> {
    let data = match &req.data {
        None => None,
        Some(text) => Some(parse_cib(text, &Limits::default()).map_err(|e| {
            refusal(
                65,
                "Invalid data given",
                format!("cannot parse the XML input: {e}"),
            )
        })?),
    };
    let r = Request {
        op: op_of(req.op),
        section: req.section.as_deref(),
        xpath: req.xpath.as_deref(),
        data: data.as_ref(),
        allow_create: req.allow_create,
        no_children: req.no_children,
        multiple: req.multiple,
        node_path: req.node_path,
    };
    match ops::perform(current, &r) {
        Ok(Outcome::Query(e)) => Ok(Done::Answer(Response::Xml(to_pcmk_pretty(&e)))),
        Ok(Outcome::Paths(p)) => Ok(Done::Answer(Response::Paths(p))),
        Ok(Outcome::Unchanged) => Ok(Done::Unchanged),
        Ok(Outcome::Changed { cib, change, patch }) => Ok(Done::Changed {
            cib,
            patch,
            config: change == Change::Config,
        }),
        Err(e) => Err(failure(&e)),
    }
}

/// Compact XML text of an element (patches on the wire).
pub fn compact(el: &Element) -> String {
    let mut s = String::new();
    write_pcmk(
        &mut s,
        el,
        &Format {
            pretty: false,
            digest_escaping: false,
            skip_attrs: &[],
        },
    );
    s
}

/// Whether two CIBs differ in their configuration (or `<cib>` attributes
/// that are persisted), i.e. whether replacing one by the other needs a
/// disk write.
pub fn config_differs(a: &Element, b: &Element) -> bool {
    let conf = |e: &Element| e.child("configuration").cloned();
    let (va, vb) = (
        cib_xml::version::Version::of(a),
        cib_xml::version::Version::of(b),
    );
    (va.admin_epoch, va.epoch) != (vb.admin_epoch, vb.epoch) || conf(a) != conf(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cib() -> Element {
        ops::empty_cib()
    }

    #[test]
    fn a_modify_of_the_configuration_is_a_config_change_with_a_patch() {
        let mut req = OpRequest::new(OpKind::Create);
        req.section = Some("resources".into());
        req.data =
            Some(r#"<primitive id="A" class="ocf" provider="heartbeat" type="Dummy"/>"#.into());
        match run(&cib(), &req) {
            Ok(Done::Changed { cib, patch, config }) => {
                assert!(config);
                assert_eq!(version_of(&cib).epoch, 1);
                assert!(patch.digest.is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_create_names_the_failure_with_pacemakers_code() {
        let mut req = OpRequest::new(OpKind::Create);
        req.section = Some("resources".into());
        req.data =
            Some(r#"<primitive id="A" class="ocf" provider="heartbeat" type="Dummy"/>"#.into());
        let Ok(Done::Changed { cib, .. }) = run(&cib(), &req) else {
            panic!("first create failed")
        };
        let f = run(&cib, &req).expect_err("second create must fail");
        assert_eq!(f.code, 108);
        assert!(f.failed.is_some());
    }

    #[test]
    fn bad_xml_is_refused_without_a_panic() {
        let mut req = OpRequest::new(OpKind::Modify);
        req.data = Some("<primitive id=".into());
        assert_eq!(run(&cib(), &req).expect_err("bad xml").code, 65);
    }

    #[test]
    fn a_status_change_is_not_a_config_change() {
        let mut req = OpRequest::new(OpKind::Modify);
        req.section = Some("status".into());
        req.allow_create = true;
        req.data = Some(r#"<status><node_state id="n1" uname="n1"/></status>"#.into());
        match run(&cib(), &req) {
            Ok(Done::Changed {
                cib: new, config, ..
            }) => {
                assert!(!config);
                assert!(!config_differs(&cib(), &new));
            }
            other => panic!("{other:?}"),
        }
    }
}
