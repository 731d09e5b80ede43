//! Per-camera fan-out of fMP4 fragments from one gateway pull to many viewers.
