// Live device state on the devices page and the dashboard: Server-Sent
// Events from /live/events update each `[data-live-device]` element's
// `[data-live]` fields in place, without a reload. The elements are
// rendered empty by the server and owned by this script only, so hydration
// never meets text it did not render.
(() => {
  if (!window.EventSource || !document.querySelector('[data-live-device]')) return;
  const bytes = (n) => {
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  };
  const events = new EventSource('/live/events');
  events.addEventListener('device', (message) => {
    const d = JSON.parse(message.data);
    document.querySelectorAll(`[data-live-device="${d.id}"]`).forEach((el) => {
      el.dataset.connected = String(d.connected);
      el.dataset.rx = String(d.rx_bytes);
      el.dataset.tx = String(d.tx_bytes);
      const set = (name, text) => {
        const f = el.querySelector(`[data-live="${name}"]`);
        if (f) f.textContent = text;
      };
      set('status', d.connected ? 'connected' : 'not connected');
      set('traffic', `${bytes(d.rx_bytes)} received, ${bytes(d.tx_bytes)} sent`);
      set('rate', `${bytes(d.rx_rate)}/s down, ${bytes(d.tx_rate)}/s up`);
    });
  });
})();
