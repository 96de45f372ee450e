//! The controller's client API (crmadmin) and the policy engine daemon's protocol (crmd to pengine).
