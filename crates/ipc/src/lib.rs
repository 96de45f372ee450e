//! Non-blocking Unix-socket IPC: length-prefixed postcard frames, flow control, peer-credential access control.
