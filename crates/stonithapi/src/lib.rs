//! The fencing client API: the IPC protocol between stonithd and its clients (stonith_admin, crmd), and a blocking client for tools.
