//! Live conversation events. (Filled in by the live-updates work.)
