//! Camera gateway ↔ portal: the control messages of the gateway tunnel.
