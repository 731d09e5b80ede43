//! Scanner ↔ portal: inventory sync payloads (`POST /api/v1/inventory/sync`).
