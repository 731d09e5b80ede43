-- The node host's health from its latest stats report (none from agents
-- older than the field): 1-minute load in hundredths, memory, uptime, and
-- which WireGuard runs the interface.
ALTER TABLE vpn_servers ADD COLUMN host_load1_centi INTEGER;
ALTER TABLE vpn_servers ADD COLUMN host_memory_total_bytes INTEGER;
ALTER TABLE vpn_servers ADD COLUMN host_memory_available_bytes INTEGER;
ALTER TABLE vpn_servers ADD COLUMN host_uptime_secs INTEGER;
ALTER TABLE vpn_servers ADD COLUMN host_wireguard TEXT CHECK (host_wireguard IN ('kernel', 'wireguard-go'));
