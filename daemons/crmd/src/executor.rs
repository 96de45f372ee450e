//! The node-local half of the controller: runs the resource operations
//! the DC asks for through this node's lrmd, and turns lrmd's history of a
//! resource into the `lrm_resource` XML the DC records. Requests to lrmd
//! go over a blocking connection (lrmd answers at once; results arrive as
//! events on crmd's subscribed connection), so no operation is lost
//! between asking and subscribing.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use cib_xml::Element;
use controller::record::{self, LrmResource, OpRecord};
use controller::wire::ExecRequest;
use lrmapi::{LrmClient, Notify, OpResult, OpSpec, OpStatus, Request, Response};

/// The parameter that carries an operation's transition key through lrmd
/// (agents see it as `OCF_RESKEY_CRM_meta_transition_key`, harmless, as
/// they see the other `CRM_meta_*`), so history rebuilt from lrmd after a
/// controller restart still names the transition that asked for it.
const KEY_PARAM: &str = "CRM_meta_transition_key";

/// What an operation in flight answers.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The transition and action it answers.
    pub transition: u64,
    /// The action.
    pub action: u32,
    /// The request.
    pub req: ExecRequest,
    /// Whether the first result was reported (recurring operations go on).
    pub reported: bool,
}

/// A finished operation to tell the DC about.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The transition and action it answers (`None`: a recurring
    /// operation's later change).
    pub answers: Option<(u64, u32)>,
    /// The resource.
    pub rsc: String,
    /// `RSC_TASK_INTERVAL`.
    pub key: String,
    /// The agent's rc.
    pub rc: i32,
    /// lrmd's op status code.
    pub op_status: i32,
    /// As expected.
    pub ok: bool,
}

/// The executor of one node.
pub struct Executor {
    lrm: LrmClient,
    /// Operations in flight by lrmd call id.
    pending: HashMap<u64, Pending>,
    /// The latest failure of each resource (lrmd keeps only the latest
    /// result per operation; the CIB keeps the latest failure too).
    failures: HashMap<String, OpRecord>,
    /// Fencing devices (class stonith): stonithd registers them from the
    /// CIB on every node, so their start, stop and monitor are bookkeeping
    /// here, not agent runs; their history lives in crmd.
    devices: BTreeMap<String, Device>,
    next_call: u64,
}

/// A fencing device's state on this node.
#[derive(Debug, Clone)]
struct Device {
    rsc: LrmResource,
    started: bool,
    one_shots: Vec<OpRecord>,
    recurring: Vec<OpRecord>,
}

/// The recurring operation a `cancel` action names (operation, interval).
fn cancelled_op(req: &ExecRequest) -> (String, u64) {
    let op = req
        .params
        .get("CRM_meta_operation")
        .cloned()
        .unwrap_or_default();
    let interval = req
        .params
        .get("CRM_meta_interval")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (op, interval)
}

fn to_record(r: &OpResult, params: &BTreeMap<String, String>) -> OpRecord {
    OpRecord {
        task: r.spec.op.clone(),
        interval_ms: r.spec.interval_ms,
        call_id: r.call_id,
        rc: r.rc,
        op_status: r.status.code(),
        transition_key: r.spec.params.get(KEY_PARAM).cloned(),
        params: params.clone(),
        run_at: r.run_at,
        rc_changed_at: r.rc_changed_at,
        exec_ms: r.exec_ms,
        queue_ms: r.queue_ms,
        exit_reason: r.exit_reason.clone(),
    }
}

/// The parameters a result was run with, as the digest sees them: the
/// resource's, then the operation's, without our transition key.
fn effective_params(
    base: &BTreeMap<String, String>,
    op: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut p = base.clone();
    for (k, v) in op {
        p.insert(k.clone(), v.clone());
    }
    p.remove(KEY_PARAM);
    p
}

impl Executor {
    /// Connects to lrmd.
    pub fn connect(paths: &plumbing::HaPaths) -> Result<Executor, String> {
        let lrm = LrmClient::local(paths, Duration::from_secs(30))
            .map_err(|e| format!("cannot connect to lrmd: {e}"))?;
        Ok(Executor {
            lrm,
            pending: HashMap::new(),
            failures: HashMap::new(),
            devices: BTreeMap::new(),
            next_call: 1_000_000,
        })
    }

    fn call(&mut self, r: &Request) -> Result<Response, String> {
        self.lrm.call(r).map_err(|e| format!("lrmd: {e}"))
    }

    /// Registers the resource unless lrmd knows it.
    fn ensure_resource(&mut self, req: &ExecRequest) -> Result<(), String> {
        if let Response::Resource(_) = self.call(&Request::Get(req.rsc.clone()))? {
            return Ok(());
        }
        let params = req
            .params
            .iter()
            .filter(|(k, _)| !k.starts_with("CRM_meta_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let r = lrmapi::Resource {
            id: req.rsc.clone(),
            class: req.class.clone(),
            rtype: req.agent.clone(),
            provider: req.provider.clone(),
            params,
        };
        match self.call(&Request::Add(r))? {
            Response::Ok => Ok(()),
            Response::Failed(why) => Err(format!("lrmd refused {}: {why}", req.rsc)),
            other => Err(format!("lrmd answered {other:?}")),
        }
    }

    /// Cancels the recurring operations of `rsc` matching `filter`
    /// (operation name, interval); returns how many.
    fn cancel_recurring(&mut self, rsc: &str, filter: impl Fn(&str, u64) -> bool) -> usize {
        let Ok(Response::State(st)) = self.call(&Request::State(rsc.to_string())) else {
            return 0;
        };
        let mut n = 0;
        for (call_id, spec, _) in st.pending {
            if spec.interval_ms > 0 && filter(&spec.op, spec.interval_ms) {
                if let Ok(Response::Ok) = self.call(&Request::Cancel(rsc.to_string(), call_id)) {
                    self.pending.remove(&call_id);
                    n += 1;
                }
            }
        }
        n
    }

    /// Starts what the DC asked for. `Ok(Some(outcome))` when it is done at
    /// once (cancel), `Ok(None)` when lrmd runs it (the result comes as an
    /// event), `Err` when it cannot run.
    pub fn execute(
        &mut self,
        transition: u64,
        action: u32,
        req: ExecRequest,
    ) -> Result<Option<Outcome>, String> {
        let key = format!("{}_{}_{}", req.rsc, req.task, req.interval_ms);
        if req.task == "cancel" {
            let (op, interval) = cancelled_op(&req);
            self.cancel_recurring(&req.rsc, |o, i| o == op && i == interval);
            return Ok(Some(Outcome {
                answers: Some((transition, action)),
                rsc: req.rsc,
                key,
                rc: 0,
                op_status: 0,
                ok: true,
            }));
        }
        if req.class == "stonith" {
            return Ok(Some(self.device_op(transition, action, req)));
        }
        if req.task == "lrm_delete" {
            self.forget(&req.rsc);
            return Ok(Some(Outcome {
                answers: Some((transition, action)),
                rsc: req.rsc,
                key,
                rc: 0,
                op_status: 0,
                ok: true,
            }));
        }
        self.ensure_resource(&req)?;
        if req.task == "stop" {
            // Pacemaker's controller cancels a resource's recurring
            // operations before stopping it; the scheduler relies on it.
            self.cancel_recurring(&req.rsc, |_, _| true);
        }
        let mut params = req.params.clone();
        params.insert(KEY_PARAM.into(), req.transition_key.clone());
        let spec = OpSpec {
            rsc: req.rsc.clone(),
            op: req.task.clone(),
            timeout_ms: req.timeout_ms,
            interval_ms: req.interval_ms,
            start_delay_ms: 0,
            notify: if req.interval_ms > 0 {
                Notify::Changed
            } else {
                Notify::Every
            },
            params,
            app_name: "crmd".into(),
        };
        match self.call(&Request::Perform(spec))? {
            Response::CallId(id) => {
                self.pending.insert(
                    id,
                    Pending {
                        transition,
                        action,
                        req,
                        reported: false,
                    },
                );
                Ok(None)
            }
            Response::Failed(why) => Err(why),
            other => Err(format!("lrmd answered {other:?}")),
        }
    }

    /// An operation on a fencing device, done at once.
    fn device_op(&mut self, transition: u64, action: u32, req: ExecRequest) -> Outcome {
        let key = format!("{}_{}_{}", req.rsc, req.task, req.interval_ms);
        self.next_call += 1;
        let call_id = self.next_call;
        let dev = self
            .devices
            .entry(req.rsc.clone())
            .or_insert_with(|| Device {
                rsc: LrmResource {
                    id: req.rsc.clone(),
                    class: req.class.clone(),
                    provider: req.provider.clone(),
                    agent: req.agent.clone(),
                },
                started: false,
                one_shots: Vec::new(),
                recurring: Vec::new(),
            });
        let rc = match req.task.as_str() {
            "start" => {
                dev.started = true;
                0
            }
            "stop" => {
                dev.started = false;
                dev.recurring.clear();
                0
            }
            "monitor" if dev.started => 0,
            "monitor" => 7,
            "cancel" => {
                let (op, interval) = cancelled_op(&req);
                dev.recurring
                    .retain(|r| !(r.task == op && r.interval_ms == interval));
                0
            }
            "lrm_delete" => {
                self.devices.remove(&req.rsc);
                return Outcome {
                    answers: Some((transition, action)),
                    rsc: req.rsc,
                    key,
                    rc: 0,
                    op_status: 0,
                    ok: true,
                };
            }
            _ => 3,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let target = record::transition_key_target(&req.transition_key);
        let rec = OpRecord {
            task: req.task.clone(),
            interval_ms: req.interval_ms,
            call_id,
            rc,
            op_status: 0,
            transition_key: Some(req.transition_key.clone()),
            params: effective_params(&BTreeMap::new(), &req.params),
            run_at: now,
            rc_changed_at: now,
            exec_ms: 0,
            queue_ms: 0,
            exit_reason: None,
        };
        if req.task != "cancel" {
            if req.interval_ms > 0 {
                dev.recurring
                    .retain(|r| !(r.task == req.task && r.interval_ms == req.interval_ms));
                dev.recurring.push(rec);
            } else {
                dev.one_shots = vec![rec];
            }
        }
        Outcome {
            answers: Some((transition, action)),
            rsc: req.rsc,
            key,
            rc,
            op_status: 0,
            ok: rc == target || req.task == "cancel",
        }
    }

    /// A result lrmd pushed: what to tell the DC, if anything.
    pub fn finished(&mut self, r: &OpResult) -> Option<Outcome> {
        if r.status == OpStatus::Cancelled {
            self.pending.remove(&r.call_id);
            return None;
        }
        let p = self.pending.get_mut(&r.call_id)?;
        let target = record::transition_key_target(&p.req.transition_key);
        let ok = r.status == OpStatus::Done && r.rc == target;
        let answers = if p.reported {
            // A recurring operation's later result: only a change matters
            // (lrmd reports changes only), and only a failure needs the DC.
            if ok {
                return None;
            }
            None
        } else {
            Some((p.transition, p.action))
        };
        p.reported = true;
        let key = format!("{}_{}_{}", p.req.rsc, p.req.task, p.req.interval_ms);
        let rsc = p.req.rsc.clone();
        if r.spec.interval_ms == 0 {
            self.pending.remove(&r.call_id);
        }
        if !ok {
            let params = effective_params(&BTreeMap::new(), &r.spec.params);
            self.failures.insert(rsc.clone(), to_record(r, &params));
        }
        Some(Outcome {
            answers,
            rsc,
            key,
            rc: r.rc,
            op_status: r.status.code(),
            ok,
        })
    }

    /// The `lrm_resource` of `rsc` as lrmd's history has it, or `None` when
    /// lrmd does not know it.
    pub fn resource_history(&mut self, rsc: &str, origin: &str) -> Option<Element> {
        if let Some(d) = self.devices.get(rsc) {
            return Some(record::lrm_resource(
                &d.rsc,
                &d.one_shots,
                &d.recurring,
                None,
                origin,
            ));
        }
        let Ok(Response::Resource(res)) = self.call(&Request::Get(rsc.to_string())) else {
            return None;
        };
        let Ok(Response::State(st)) = self.call(&Request::State(rsc.to_string())) else {
            return None;
        };
        let one_shots: Vec<OpRecord> = st
            .history
            .iter()
            .filter(|r| r.spec.interval_ms == 0 && r.status != OpStatus::Cancelled)
            .map(|r| to_record(r, &effective_params(&res.params, &r.spec.params)))
            .collect();
        let recurring: Vec<OpRecord> = st
            .pending
            .iter()
            .filter(|(_, spec, _)| spec.interval_ms > 0)
            .filter_map(|(_, _, last)| last.as_ref())
            .map(|r| to_record(r, &effective_params(&res.params, &r.spec.params)))
            .collect();
        let lr = LrmResource {
            id: res.id.clone(),
            class: res.class.clone(),
            provider: res.provider.clone(),
            agent: res.rtype.clone(),
        };
        Some(record::lrm_resource(
            &lr,
            &one_shots,
            &recurring,
            self.failures.get(rsc),
            origin,
        ))
    }

    /// This node's whole `<lrm>` for a join.
    pub fn lrm(&mut self, uuid: &str) -> Element {
        let mut rscs = Element::new("lrm_resources");
        if let Ok(Response::Resources(list)) = self.call(&Request::List) {
            for r in list {
                if let Some(e) = self.resource_history(&r.id, "do_lrm_query") {
                    rscs.children.push(e);
                }
            }
        }
        let devices: Vec<String> = self.devices.keys().cloned().collect();
        for d in devices {
            if let Some(e) = self.resource_history(&d, "do_lrm_query") {
                rscs.children.push(e);
            }
        }
        let mut lrm = Element::new("lrm").with_attr("id", uuid);
        lrm.children.push(rscs);
        lrm
    }

    /// Forgets a resource (lrm_delete, clean-up): cancels what it runs and
    /// unregisters it.
    pub fn forget(&mut self, rsc: &str) {
        self.cancel_recurring(rsc, |_, _| true);
        let _ = self.call(&Request::Delete(rsc.to_string()));
        self.failures.remove(rsc);
    }
}
