//! The cib's event loop: one `plumbing::EventLoop` with the cibapi server,
//! the heartbeat API connection (unless standalone) and signals. Each turn:
//! take cluster messages and client requests, apply them to the CIB held
//! in memory (through `crate::ops`, pure), then, once per turn, write the
//! CIB to disk if its configuration changed (group commit), and only then
//! answer the writes of that turn. So an acknowledged write is on disk,
//! and a refused one changed nothing in memory or on disk.

use std::collections::{BTreeSet, HashMap};

use cib_xml::patch::{self, Patch, PatchError};
use cib_xml::{digest, doc::parse_cib, Element, Limits as XmlLimits};
use cibapi::{CibApi, Event as ApiEvent, OpRequest, Request, Response, Status};
use hbapi::{ClusterEvent, HbApi};
use ipc::{AccessPolicy, Client, ClientEvent, ClientId, Limits, Server, ServerEvent};
use plumbing::{Event, EventLoop, Signal};

use crate::ops::{self, compact, config_differs, refusal, version_of, Done};
use crate::repl::{self, Assembly, Wire};
use crate::store::Store;

/// Pacemaker's "timed out" exit code, for a forwarded write whose master
/// left before answering (it may or may not have been applied).
const EX_TIMEOUT: i32 = 124;
/// Pacemaker's "could not write" (EX_CANTCREAT).
const EX_CANTCREAT: i32 = 73;

/// Where an answer held until this turn's disk write goes.
enum AckTo {
    /// A local client's call.
    Client { client: ClientId, call: Option<u64> },
    /// A forwarded write's origin.
    Remote { node: String, id: u64 },
}

/// How the daemon was started.
pub struct Settings {
    /// Where the socket lives.
    pub socket: std::path::PathBuf,
    /// The heartbeat API socket, or `None` to run standalone.
    pub heartbeat: Option<std::path::PathBuf>,
    /// This node's name.
    pub local: String,
    /// Who may read and write.
    pub policy: AccessPolicy,
}

struct Service {
    doc: Element,
    digest: Option<String>,
    store: Store,
    server: Server<CibApi>,
    hb: Option<Client<HbApi>>,
    local: String,
    peers: BTreeSet<String>,
    subscribers: BTreeSet<ClientId>,
    reqs: Vec<ServerEvent<Request>>,
    dirty: bool,
    acks: Vec<(AckTo, Response)>,
    forwards: HashMap<u64, (ClientId, Option<u64>, String)>,
    next_forward: u64,
    awaiting_full: Option<String>,
    assemblies: HashMap<String, Assembly>,
    next_xfer: u64,
}

/// Runs until SIGTERM/SIGINT, or until heartbeat goes away.
pub fn run(settings: Settings, doc: Element, store: Store) -> Result<(), String> {
    let mut lp = plumbing::EventLoop::for_daemon()?;
    let hb = match &settings.heartbeat {
        None => None,
        Some(path) => Some(hbapi::cluster_client(&mut lp, path, "cib", repl::MSG_TYPE)?),
    };
    // A 50 MB CIB must pass both ways: the frame limit stays the ipc
    // crate's (256 MB); a client may hold a few whole CIBs queued.
    let limits = Limits {
        max_queue: 512 << 20,
        ..Limits::default()
    };
    let server = Server::bind(&mut lp, &settings.socket, 0o660, settings.policy, limits)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.socket.display()))?;
    let mut svc = Service {
        doc,
        digest: None,
        store,
        server,
        hb,
        local: settings.local,
        peers: BTreeSet::new(),
        subscribers: BTreeSet::new(),
        reqs: Vec::new(),
        dirty: false,
        acks: Vec::new(),
        forwards: HashMap::new(),
        next_forward: 0,
        awaiting_full: None,
        assemblies: HashMap::new(),
        next_xfer: 0,
    };
    svc.hello(&mut lp, None, false);
    svc.main_loop(&mut lp)
}

impl Service {
    fn main_loop(&mut self, lp: &mut EventLoop) -> Result<(), String> {
        let mut events = Vec::new();
        let mut hb_events = Vec::new();
        loop {
            lp.poll(&mut events, self.server.poll_timeout())
                .map_err(|e| format!("poll: {e}"))?;
            for ev in events.drain(..) {
                match ev {
                    Event::Io { token, ready }
                        if self.hb.as_ref().is_some_and(|h| h.token() == token) =>
                    {
                        if let Some(hb) = self.hb.as_mut() {
                            hb.handle_io(lp, ready, &mut hb_events);
                        }
                    }
                    Event::Io { token, ready } if self.server.owns(token) => {
                        self.server.handle_io(lp, token, ready, &mut self.reqs);
                    }
                    Event::Signal(Signal::SIGTERM | Signal::SIGINT) => {
                        log::info!("cib stopping");
                        self.commit(lp);
                        return Ok(());
                    }
                    _ => {}
                }
            }
            for ev in hb_events.drain(..) {
                self.heartbeat_event(lp, ev)?;
            }
            self.server.process(lp, &mut self.reqs);
            self.serve(lp);
            self.commit(lp);
        }
    }

    fn local_digest(&mut self) -> String {
        if self.digest.is_none() {
            self.digest = Some(digest::versioned(&self.doc));
        }
        self.digest.clone().unwrap_or_default()
    }

    fn master(&self) -> &str {
        repl::master(&self.local, &self.peers)
    }

    fn is_master(&self) -> bool {
        self.master() == self.local
    }

    /// Writes the CIB if its configuration changed this turn, then sends
    /// the answers held for it.
    fn commit(&mut self, lp: &mut EventLoop) {
        let mut failed = None;
        if self.dirty {
            match self.store.write(&self.doc) {
                Ok(()) => self.dirty = false,
                Err(e) => {
                    log::error!(
                        "cannot write {}: {e}; updates are not acknowledged until it works",
                        self.store.primary().display()
                    );
                    failed = Some(e.to_string());
                }
            }
        }
        for ack in std::mem::take(&mut self.acks) {
            let (to, resp) = ack;
            let resp = match (&failed, resp) {
                (Some(e), Response::Done { changed: true, .. }) => Response::Failed(refusal(
                    EX_CANTCREAT,
                    "Could not write the CIB to disk",
                    format!("the update is applied in memory but not on disk: {e}"),
                )),
                (_, r) => r,
            };
            match to {
                AckTo::Client { client, call } => {
                    if let Some(id) = call {
                        let _ = self.server.reply(lp, client, id, &resp, &mut self.reqs);
                    }
                }
                AckTo::Remote { node, id } => {
                    self.send(lp, Some(&node), &Wire::Result { id, resp });
                }
            }
        }
    }

    fn send(&mut self, lp: &mut EventLoop, to: Option<&str>, w: &Wire) {
        let Some(hb) = self.hb.as_mut() else { return };
        if let Err(e) = w
            .to_message()
            .and_then(|m| hbapi::send_message(hb, lp, to, &m))
        {
            log::warn!("cib message: {e}");
        }
    }

    fn hello(&mut self, lp: &mut EventLoop, to: Option<&str>, reply: bool) {
        if self.hb.is_none() {
            return;
        }
        let w = Wire::Hello {
            version: version_of(&self.doc),
            digest: self.local_digest(),
            reply,
        };
        self.send(lp, to, &w);
    }

    fn publish(&mut self, lp: &mut EventLoop, ev: &ApiEvent) {
        for c in self.subscribers.clone() {
            if self.server.push_event(lp, c, ev, &mut self.reqs).is_err() {
                self.subscribers.remove(&c);
            }
        }
    }

    fn serve(&mut self, lp: &mut EventLoop) {
        while !self.reqs.is_empty() {
            for r in std::mem::take(&mut self.reqs) {
                match r {
                    ServerEvent::Request { client, call, body } => {
                        self.request(lp, client, call, body);
                    }
                    ServerEvent::Disconnected { client, .. } => {
                        self.subscribers.remove(&client);
                    }
                    ServerEvent::Connected { .. } => {}
                }
            }
        }
    }

    fn request(&mut self, lp: &mut EventLoop, client: ClientId, call: Option<u64>, body: Request) {
        let resp = match body {
            Request::Status => Response::Status(Status {
                version: version_of(&self.doc),
                digest: self.local_digest(),
                master: self.master().to_string(),
                peers: self
                    .peers
                    .iter()
                    .cloned()
                    .chain(std::iter::once(self.local.clone()))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                syncing: self.awaiting_full.is_some(),
            }),
            Request::Subscribe => {
                self.subscribers.insert(client);
                Response::Subscribed(version_of(&self.doc))
            }
            Request::Op(op) if !op.op.is_write() => match ops::run(&self.doc, &op) {
                Ok(Done::Answer(r)) => r,
                Ok(_) => {
                    Response::Failed(refusal(70, "Invalid argument", "a query changed the CIB"))
                }
                Err(f) => Response::Failed(f),
            },
            Request::Op(op) => {
                if self.is_master() {
                    let resp = self.apply_write(lp, &op);
                    self.acks.push((AckTo::Client { client, call }, resp));
                } else {
                    self.next_forward += 1;
                    let id = self.next_forward;
                    let master = self.master().to_string();
                    self.forwards.insert(id, (client, call, master.clone()));
                    self.send(lp, Some(&master), &Wire::Forward { id, req: op });
                }
                return;
            }
        };
        if let Some(id) = call {
            let _ = self.server.reply(lp, client, id, &resp, &mut self.reqs);
        }
    }

    /// The master's write: apply, replicate, publish. The answer is held
    /// until the disk write of this turn.
    fn apply_write(&mut self, lp: &mut EventLoop, op: &OpRequest) -> Response {
        match ops::run(&self.doc, op) {
            Ok(Done::Answer(r)) => r,
            Ok(Done::Unchanged) => Response::Done {
                version: version_of(&self.doc),
                changed: false,
            },
            Ok(Done::Changed { cib, patch, config }) => {
                let version = version_of(&cib);
                self.doc = cib;
                self.digest = patch.digest.clone();
                self.dirty |= config;
                let text = compact(&patch.to_xml());
                if !self.peers.is_empty() {
                    if text.len() <= repl::MAX_DIFF {
                        self.send(
                            lp,
                            None,
                            &Wire::Diff {
                                patch: text.clone(),
                            },
                        );
                    } else {
                        self.send_full(lp, None);
                    }
                }
                self.publish(
                    lp,
                    &ApiEvent::Diff {
                        version,
                        patch: text,
                    },
                );
                Response::Done {
                    version,
                    changed: true,
                }
            }
            Err(f) => Response::Failed(f),
        }
    }

    fn send_full(&mut self, lp: &mut EventLoop, to: Option<&str>) {
        let text = compact(&self.doc);
        let packed = match repl::pack_full(&text) {
            Ok(p) => p,
            Err(e) => {
                log::error!("cannot compress the CIB for a full copy: {e}");
                return;
            }
        };
        if packed.len() > repl::MAX_FULL {
            log::error!(
                "the CIB ({} bytes, {} compressed) is larger than the {} bytes replicated over heartbeat; peers keep their older copy",
                text.len(),
                packed.len(),
                repl::MAX_FULL
            );
            return;
        }
        self.next_xfer += 1;
        let version = version_of(&self.doc);
        let digest = self.local_digest();
        for w in repl::chunks(self.next_xfer, version, &digest, &packed) {
            self.send(lp, to, &w);
        }
    }

    fn heartbeat_event(
        &mut self,
        lp: &mut EventLoop,
        ev: ClientEvent<HbApi>,
    ) -> Result<(), String> {
        match hbapi::cluster_event(ev, "cib", Wire::from_message)? {
            Some(ClusterEvent::NodeStatus { node, status }) if node != self.local => {
                if status == "active" {
                    self.hello(lp, Some(&node), false);
                } else if status == "dead" {
                    self.peer_gone(lp, &node);
                }
            }
            Some(ClusterEvent::Message { from, wire }) if from != self.local => {
                self.cluster_message(lp, from, wire);
            }
            _ => {}
        }
        Ok(())
    }

    fn peer_gone(&mut self, lp: &mut EventLoop, node: &str) {
        if self.peers.remove(node) {
            log::info!("cib peer {node} left; master is now {}", self.master());
        }
        self.assemblies.remove(node);
        if self.awaiting_full.as_deref() == Some(node) {
            self.awaiting_full = None;
        }
        let lost: Vec<u64> = self
            .forwards
            .iter()
            .filter(|(_, (_, _, m))| m == node)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            if let Some((client, call, _)) = self.forwards.remove(&id) {
                let resp = Response::Failed(refusal(
                    EX_TIMEOUT,
                    "Timer expired",
                    format!("the master {node} left before answering; the update may not have been applied"),
                ));
                if let Some(c) = call {
                    let _ = self.server.reply(lp, client, c, &resp, &mut self.reqs);
                }
            }
        }
    }

    fn cluster_message(&mut self, lp: &mut EventLoop, from: String, w: Wire) {
        match w {
            Wire::Hello {
                version,
                digest,
                reply,
            } => {
                if self.peers.insert(from.clone()) {
                    log::info!(
                        "cib peer {from} is up with {version}; master is {}",
                        self.master()
                    );
                }
                if !reply {
                    self.hello(lp, Some(&from), true);
                }
                let ours = version_of(&self.doc);
                let our_digest = self.local_digest();
                if self.awaiting_full.is_none() && repl::newer(version, &digest, ours, &our_digest)
                {
                    log::info!(
                        "{from} has a newer CIB ({version} over our {ours}): asking for a copy"
                    );
                    self.awaiting_full = Some(from.clone());
                    self.send(lp, Some(&from), &Wire::SyncReq);
                }
            }
            Wire::Forward { id, req } => {
                let resp = if self.is_master() {
                    if req.op.is_write() {
                        self.apply_write(lp, &req)
                    } else {
                        Response::Failed(refusal(
                            70,
                            "Invalid argument",
                            "only writes are forwarded",
                        ))
                    }
                } else {
                    Response::Failed(refusal(
                        EX_TIMEOUT,
                        "Timer expired",
                        format!(
                            "{} is not the master (the master is {})",
                            self.local,
                            self.master()
                        ),
                    ))
                };
                self.acks.push((AckTo::Remote { node: from, id }, resp));
            }
            Wire::Result { id, resp } => {
                if let Some((client, call, _)) = self.forwards.remove(&id) {
                    self.acks.push((AckTo::Client { client, call }, resp));
                }
            }
            Wire::Diff { patch } => self.apply_diff(lp, &from, &patch),
            Wire::SyncReq => {
                log::info!(
                    "sending a full copy of the CIB ({}) to {from}",
                    version_of(&self.doc)
                );
                self.send_full(lp, Some(&from));
            }
            Wire::Full {
                xfer,
                chunk,
                chunks,
                version,
                digest,
                data,
            } => {
                let whole = self
                    .assemblies
                    .entry(from.clone())
                    .or_default()
                    .add(xfer, chunk, chunks, &data);
                if let Some(text) = whole {
                    self.install_full(lp, &from, version, &digest, &text);
                }
            }
        }
    }

    fn apply_diff(&mut self, lp: &mut EventLoop, from: &str, text: &str) {
        if self.awaiting_full.is_some() {
            return; // the copy on its way includes it
        }
        let parsed = parse_cib(text, &XmlLimits::default())
            .map_err(|e| PatchError::Malformed(e.to_string()))
            .and_then(|el| Patch::from_xml(&el));
        let p = match parsed {
            Ok(p) => p,
            Err(e) => {
                log::warn!("bad patch from {from}: {e}; asking for a full copy");
                self.awaiting_full = Some(from.to_string());
                self.send(lp, Some(from), &Wire::SyncReq);
                return;
            }
        };
        let mut work = self.doc.clone();
        match patch::apply(&mut work, &p, true) {
            Ok(()) => {
                let version = version_of(&work);
                self.dirty |= config_differs(&self.doc, &work);
                self.doc = work;
                self.digest = p.digest.clone();
                self.publish(
                    lp,
                    &ApiEvent::Diff {
                        version,
                        patch: text.to_string(),
                    },
                );
            }
            Err(PatchError::Old { current, source }) => {
                log::debug!("ignored a patch from {from} for {source}: we are at {current}");
            }
            Err(e) => {
                log::warn!("cannot apply a patch from {from}: {e}; asking for a full copy");
                self.awaiting_full = Some(from.to_string());
                self.send(lp, Some(from), &Wire::SyncReq);
            }
        }
    }

    fn install_full(
        &mut self,
        lp: &mut EventLoop,
        from: &str,
        version: cibapi::Version,
        claimed: &str,
        text: &[u8],
    ) {
        let requested = self.awaiting_full.as_deref() == Some(from);
        let ours = version_of(&self.doc);
        let our_digest = self.local_digest();
        if !requested && !repl::newer(version, claimed, ours, &our_digest) {
            return;
        }
        let parsed = repl::unpack_full(text.to_vec()).and_then(|t| {
            std::str::from_utf8(&t)
                .map_err(|e| e.to_string())
                .and_then(|t| parse_cib(t, &XmlLimits::default()).map_err(|e| e.to_string()))
        });
        let cib = match parsed {
            Ok(c) if digest::versioned(&c) == claimed && version_of(&c) == version => c,
            Ok(_) => {
                log::warn!("the copy from {from} does not match its digest or version; dropped");
                if requested {
                    self.send(lp, Some(from), &Wire::SyncReq);
                }
                return;
            }
            Err(e) => {
                log::warn!("the copy from {from} does not parse: {e}");
                if requested {
                    self.send(lp, Some(from), &Wire::SyncReq);
                }
                return;
            }
        };
        log::info!("installed the CIB {version} from {from} (was {ours})");
        self.dirty |= config_differs(&self.doc, &cib);
        self.doc = cib;
        self.digest = Some(claimed.to_string());
        self.awaiting_full = None;
        self.publish(lp, &ApiEvent::Replaced { version });
        // Tell the others what we have now, so anyone older catches up.
        self.hello(lp, None, true);
    }
}
