//! Fencing's pure core (devices, host lists, topology levels, request merging, history) and the runner of STONITH plugins and fence agents.
