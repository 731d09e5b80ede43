// First-load benchmark (not a test): the sign-in page in Debian's Chromium,
// cold cache, loopback. For each run: bytes transferred (every response's
// encoded length, as the network saw it) and the time from navigation start
// to a hydrated page (the show-password toggle reacts to a click, which it
// only does once the wasm bundle has hydrated). Runs with no CPU throttling
// and at 4x (CDP Emulation.setCPUThrottlingRate, a mid-range phone), then
// prints medians as JSON lines.
//
//   node end2end/bench/first-load.mjs URL [runs=10]
import { chromium } from '@playwright/test';

const url = new URL('/login', process.argv[2] ?? 'http://127.0.0.1:3000').toString();
const runs = Number(process.argv[3] ?? 10);

// In the page before any of its scripts: click the toggle on every tick
// until the password input turns to text, and note when.
const probe = () => {
  const tick = () => {
    const toggle = document.querySelector('[data-testid=toggle-password]');
    const input = document.querySelector('input[name=password]');
    if (toggle && input) {
      if (input.getAttribute('type') === 'text') {
        window.__hydratedAt = performance.now();
        return;
      }
      toggle.click();
    }
    setTimeout(tick, 2);
  };
  tick();
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  for (const rate of [1, 4]) {
    const bytes = [];
    const times = [];
    for (let i = 0; i < runs; i++) {
      // A new context per run: empty HTTP cache and no compiled-wasm cache.
      const context = await browser.newContext();
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      await cdp.send('Emulation.setCPUThrottlingRate', { rate });
      let transferred = 0;
      cdp.on('Network.loadingFinished', (e) => { transferred += e.encodedDataLength; });
      await page.addInitScript(probe);
      await page.goto(url, { waitUntil: 'load' });
      await page.waitForFunction(() => window.__hydratedAt !== undefined, null, { timeout: 60_000 });
      times.push(await page.evaluate(() => window.__hydratedAt));
      // Responses still finishing after the page hydrated are counted too.
      await page.waitForLoadState('networkidle');
      bytes.push(transferred);
      await context.close();
    }
    console.log(JSON.stringify({
      cpu_throttling: rate,
      runs,
      transferred_kb_median: Math.round(median(bytes) / 1024),
      hydrated_ms_median: Math.round(median(times)),
      hydrated_ms: times.map(Math.round),
    }));
  }
} finally {
  await browser.close();
}
