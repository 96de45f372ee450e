//! The attribute daemon's client API: the IPC protocol between attrd and its clients (attrd_updater, crmd).
