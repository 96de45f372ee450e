//! Helpers shared by the integration tests: locating built binaries, temporary node directories.
