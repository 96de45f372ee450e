//! Agent runs on worker threads, so the loop never waits for an agent: a
//! job is handed to a thread with clones of what it needs, and its result
//! comes back through a channel whose sender fires the loop's trigger.
//! Agent metadata and dynamic host lists are cached across jobs.

use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fencing::exec::{self, AgentDirs, AgentInfo, Call};
use fencing::{AgentKind, Device, HostCheck, NativePlugin};
use ipc::ClientId;
use plumbing::Trigger;
use stonithapi::{DeviceStatus, FenceAction};

use crate::wire::Capable;

/// How long a dynamic host list is trusted.
const LIST_CACHE: Duration = Duration::from_secs(60);

/// Timeout of host checks (list, status) and device queries.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Whom a client job answers.
#[derive(Debug, Clone, Copy)]
pub struct ReplyTo {
    /// The client.
    pub client: ClientId,
    /// Its call.
    pub call: Option<u64>,
}

/// Work for a thread.
pub enum Job {
    /// Which of `devices` can fence `target` (for operation `op`, asked by
    /// `origin`).
    Capability {
        op: String,
        origin: String,
        target: String,
        devices: Vec<Device>,
    },
    /// Run a device action for an operation.
    Execute {
        op: String,
        step: u32,
        origin: String,
        device: Device,
        action: FenceAction,
        target: String,
        nodeid: Option<String>,
        timeout: Duration,
        delay: bool,
    },
    /// A device's status (stonith_admin -Q, or a recurring monitor when
    /// `reply` is `None`).
    Status {
        reply: Option<ReplyTo>,
        device: Device,
    },
    /// The hosts a device can fence (stonith_admin -s).
    Targets { reply: ReplyTo, device: Device },
    /// An agent's metadata (stonith_admin -M).
    Metadata { reply: ReplyTo, agent: String },
}

impl Job {
    /// The device the job acts on and its action limit, for jobs that
    /// run a device action (host checks are queries and not limited).
    pub fn device(&self) -> Option<(&str, Option<u32>)> {
        match self {
            Job::Execute { device, .. } | Job::Status { device, .. } => {
                Some((&device.id, device.action_limit))
            }
            _ => None,
        }
    }
}

/// A finished job.
pub enum Done {
    Capability {
        op: String,
        origin: String,
        devices: Vec<Capable>,
    },
    Executed {
        op: String,
        step: u32,
        origin: String,
        ok: bool,
        exit_code: i32,
        reason: String,
        agent_time: Duration,
    },
    Status {
        reply: Option<ReplyTo>,
        status: DeviceStatus,
    },
    Targets {
        reply: ReplyTo,
        result: Result<Vec<String>, String>,
    },
    Metadata {
        reply: ReplyTo,
        result: Result<String, String>,
    },
}

/// A device's host list and when it was read.
type ListedHosts = (Instant, Vec<String>);

/// What every job shares.
#[derive(Clone)]
pub struct Shared {
    pub dirs: AgentDirs,
    pub local: String,
    infos: Arc<Mutex<HashMap<String, AgentInfo>>>,
    lists: Arc<Mutex<HashMap<String, ListedHosts>>>,
    tx: Sender<(Option<String>, Done)>,
    trigger: Trigger,
}

impl Shared {
    pub fn new(
        dirs: AgentDirs,
        local: String,
        tx: Sender<(Option<String>, Done)>,
        trigger: Trigger,
    ) -> Shared {
        Shared {
            dirs,
            local,
            infos: Arc::default(),
            lists: Arc::default(),
            tx,
            trigger,
        }
    }

    /// Forgets a device's cached host list (its configuration changed).
    pub fn forget_list(&self, device: &str) {
        if let Ok(mut l) = self.lists.lock() {
            l.remove(device);
        }
    }

    fn info(&self, d: &Device) -> AgentInfo {
        if let Some(i) = self
            .infos
            .lock()
            .ok()
            .and_then(|m| m.get(&d.agent).cloned())
        {
            return i;
        }
        match exec::agent_info(&self.dirs, &d.kind) {
            Ok(i) => {
                if let Ok(mut m) = self.infos.lock() {
                    m.insert(d.agent.clone(), i.clone());
                }
                i
            }
            Err(e) => {
                log::warn!("device {}: {e}", d.id);
                AgentInfo::default()
            }
        }
    }

    fn call<'a>(&'a self, action: &'a str, target: Option<&'a str>, timeout: Duration) -> Call<'a> {
        Call {
            action,
            target,
            nodeid: None,
            local: &self.local,
            timeout,
        }
    }

    fn host_list(&self, d: &Device, info: &AgentInfo) -> Result<Vec<String>, String> {
        if let Some((at, hosts)) = self.lists.lock().ok().and_then(|m| m.get(&d.id).cloned()) {
            if at.elapsed() < LIST_CACHE {
                return Ok(hosts);
            }
        }
        let r = exec::execute(&self.dirs, d, info, &self.call("list", None, CHECK_TIMEOUT));
        if !r.ok("list") {
            return Err(r.reason);
        }
        let hosts = exec::parse_list_output(&r.output, !matches!(d.kind, AgentKind::FenceAgent(_)));
        if let Ok(mut m) = self.lists.lock() {
            m.insert(d.id.clone(), (Instant::now(), hosts.clone()));
        }
        Ok(hosts)
    }

    /// Whether `d` can fence `target` from this node.
    fn can_fence(&self, d: &Device, target: &str) -> bool {
        if d.kind == AgentKind::Native(NativePlugin::Suicide) {
            return target.eq_ignore_ascii_case(&self.local);
        }
        let native = matches!(d.kind, AgentKind::Native(_));
        let info = self.info(d);
        let can_list =
            native || !matches!(d.kind, AgentKind::FenceAgent(_)) || info.has_action("list");
        let check = if native
            && d.host_check.is_none()
            && d.host_list.is_empty()
            && d.host_map.is_empty()
        {
            HostCheck::DynamicList
        } else {
            d.host_check(can_list, info.has_action("status"))
        };
        match check {
            HostCheck::None => true,
            HostCheck::StaticList => d.statically_lists(target),
            HostCheck::DynamicList => match self.host_list(d, &info) {
                Ok(hosts) => hosts
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(target) || h == d.port_for(target)),
                Err(e) => {
                    log::warn!("device {}: cannot list its hosts: {e}", d.id);
                    // Pacemaker falls back to status when a derived
                    // dynamic-list fails.
                    d.host_check.is_none() && self.status_says_yes(d, &info, target)
                }
            },
            HostCheck::Status => self.status_says_yes(d, &info, target),
        }
    }

    fn status_says_yes(&self, d: &Device, info: &AgentInfo, target: &str) -> bool {
        let r = exec::execute(
            &self.dirs,
            d,
            info,
            &self.call("status", Some(target), CHECK_TIMEOUT),
        );
        r.ok("status")
    }

    /// Runs a job on a new thread.
    pub fn spawn(&self, job: Job) {
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("stonithd-job".into())
            .spawn(move || {
                let device = job.device().map(|(id, _)| id.to_string());
                let done = me.run(job);
                if me.tx.send((device, done)).is_ok() {
                    let _ = me.trigger.fire();
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start a worker thread: {e}");
        }
    }

    fn run(&self, job: Job) -> Done {
        match job {
            Job::Capability {
                op,
                origin,
                target,
                devices,
            } => {
                let devices = devices
                    .iter()
                    .filter(|d| self.can_fence(d, &target))
                    .map(|d| Capable {
                        id: d.id.clone(),
                        priority: d.priority,
                        suicide: d.kind == AgentKind::Native(NativePlugin::Suicide),
                        skip_on: d.skips_on_phase(),
                        automatic_on: d.provides_unfencing || self.info(d).automatic_on,
                    })
                    .collect();
                Done::Capability {
                    op,
                    origin,
                    devices,
                }
            }
            Job::Execute {
                op,
                step,
                origin,
                device,
                action,
                target,
                nodeid,
                timeout,
                delay,
            } => {
                if delay {
                    let random = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.subsec_nanos() as u64 / 1000)
                        .unwrap_or(0);
                    let wait = device.delay(random);
                    if !wait.is_zero() {
                        log::info!("delaying {action} of {target} by {wait:?} (pcmk_delay)");
                        std::thread::sleep(wait);
                    }
                }
                let info = self.info(&device);
                let name = action.as_str();
                let timeout = device.timeout(name, timeout);
                let r = exec::execute(
                    &self.dirs,
                    &device,
                    &info,
                    &Call {
                        action: name,
                        target: Some(&target),
                        nodeid: nodeid.as_deref(),
                        local: &self.local,
                        timeout,
                    },
                );
                let ok = r.ok(name);
                if ok {
                    log::info!("{action} of {target} by {} succeeded", device.id);
                } else {
                    log::warn!("{action} of {target} by {} failed: {}", device.id, r.reason);
                }
                Done::Executed {
                    op,
                    step,
                    origin,
                    ok,
                    exit_code: r.exit_code(name),
                    reason: r.reason,
                    agent_time: r.elapsed,
                }
            }
            Job::Status { reply, device } => {
                let info = self.info(&device);
                let action = if matches!(device.kind, AgentKind::FenceAgent(_))
                    && info.has_action("monitor")
                {
                    "monitor"
                } else {
                    "status"
                };
                let r = exec::execute(
                    &self.dirs,
                    &device,
                    &info,
                    &self.call(action, None, device.timeout(action, CHECK_TIMEOUT)),
                );
                Done::Status {
                    reply,
                    status: DeviceStatus {
                        id: device.id.clone(),
                        ok: !r.timed_out && r.rc == 0,
                        rc: r.rc,
                        output: if r.reason.is_empty() {
                            r.output
                        } else {
                            r.reason
                        },
                    },
                }
            }
            Job::Targets { reply, device } => {
                // As Pacemaker: what the agent's list says, whatever
                // pcmk_host_list claims.
                let info = self.info(&device);
                self.forget_list(&device.id);
                let result = self.host_list(&device, &info);
                Done::Targets { reply, result }
            }
            Job::Metadata { reply, agent } => Done::Metadata {
                reply,
                result: exec::metadata(&self.dirs, &agent),
            },
        }
    }
}
