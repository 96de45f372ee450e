//! The cluster controller's pure state machines: DC election, join, transition graph execution.
