// Every customer and admin page at a phone's and a desktop's width, as one
// signed-in admin (who is a customer too): no sideways scrolling, no button
// label broken inside a word, every page (404 and error pages included)
// hydrates with no CSP violation. Also: configs downloaded for names people
// really use pass `wg-quick strip`, and re-keying sends only a public key.
// One browser context is shared by all of it to keep the run short.
import { test, expect, BrowserContext, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectHydrated, shot, x25519Public } from './support';

const adminEmail = process.env.TRUEVAULT_E2E_ADMIN_EMAIL ?? 'admin@example.com';
const adminPassword = process.env.TRUEVAULT_E2E_ADMIN_PASSWORD ?? '';
const baseURL = process.env.TRUEVAULT_E2E_URL ?? 'http://127.0.0.1:3900';

test.describe.configure({ mode: 'serial' });

let context: BrowserContext;
let page: Page;
const consoleProblems: string[] = [];

test.beforeAll(async ({ browser }) => {
  context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) consoleProblems.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleProblems.push(`${page.url()}: ${e.message}`));
  expect(adminPassword, 'run.sh creates the admin and passes its password').not.toBe('');
  await page.goto('/login');
  await expectHydrated(page, '[data-testid=toggle-password]', 'input[name=password]');
  await page.fill('input[name=email]', adminEmail);
  await page.fill('input[name=password]', adminPassword);
  await page.click('button:has-text("Sign in")');
  await expect(page).toHaveURL(/\/dashboard$/);
});

test.afterAll(async () => {
  await context?.close();
});

// Names as people type them: an apostrophe and a space, another script,
// and 40 characters.
const names = ["Ada's phone", 'Зоя ноутбук', 'Living room television by the big window'];
const deviceIds: string[] = [];

test('configs for real names download under a name wg-quick accepts', async () => {
  // The admin is a VIP here, so the plan's one device does not stop the test.
  await page.goto('/admin/users');
  const row = page.getByTestId('users').locator('tr', { hasText: adminEmail });
  if (await row.locator('button:has-text("Make VIP")').count()) {
    await row.locator('button:has-text("Make VIP")').click();
    await expect(row.locator('button', { hasText: 'VIP ✓' })).toBeVisible();
  }
  const server = `layout-${Date.now() % 100000}`;
  await page.goto('/admin/servers');
  // Scoped: each listed server has an (closed) edit form with the same fields.
  const add = page.locator('section.card', { hasText: 'Add a server' });
  await add.locator('input[name=name]').fill(server);
  await add.locator('input[name=region]').fill('eu');
  await add.locator('input[name=endpoint_host]').fill('vpn.example.org');
  await add.locator('input[name=ipv4_pool]').fill('10.78.0.0/16');
  await add.locator('button:has-text("Add server")').click();
  const command = await page.getByTestId('node-token').locator('pre').innerText();
  // The real URL of this portal, and a token that cannot read as an option.
  expect(command).toContain(`--portal ${baseURL} `);
  const token = /--token=(\S+)/.exec(command)![1];
  expect(token).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{42}$/);
  const enrolled = await page.request.post('/api/v1/nodes/enroll', {
    headers: { Authorization: `Bearer ${token}` },
    data: { public_key: randomBytes(32).toString('base64') },
  });
  expect(enrolled.status()).toBe(200);

  const dir = mkdtempSync(join(tmpdir(), 'tv-wgquick-'));
  await page.goto('/devices');
  const form = page.getByTestId('add-device');
  for (const name of names) {
    await expect(page.getByTestId('public-key')).toHaveValue(/^[A-Za-z0-9+/]{43}=$/);
    await form.locator('input[name=name]').fill(name);
    await form.locator('button:has-text("Add device")').click();
    await expect(page.getByTestId('device-config').locator('h2')).toHaveText(`Config for ${name}`);
    await expect(page.getByTestId('key-made-here')).toBeVisible();
    // The form is empty again for the next device.
    await expect(form.locator('input[name=name]')).toHaveValue('');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-config').click()]);
    const file = download.suggestedFilename();
    expect(file).toMatch(/^[a-zA-Z0-9_=+.-]{1,15}\.conf$/);
    const path = join(dir, file);
    await download.saveAs(path);
    chmodSync(path, 0o600);
    const text = readFileSync(path, 'utf8');
    expect(text.split('\n')[0]).toContain(name);
    // wg-quick refuses a file whose name is not an interface name, and
    // parses the rest; strip prints what `wg` would be given.
    const stripped = execFileSync('wg-quick', ['strip', path], { encoding: 'utf8' });
    expect(stripped).toContain('[Interface]');
    expect(stripped).toMatch(/PrivateKey = [A-Za-z0-9+/]{43}=/);
    // The server is the automatic choice (other specs may have added theirs).
    expect(stripped).toMatch(/Endpoint = \S+:51820/);
  }
  for (const name of names) {
    const usage = page.locator(`tr[data-device="${name}"] a:has-text("Usage")`);
    deviceIds.push((await usage.getAttribute('href'))!.split('/').pop()!);
  }
});

test('re-keying sends only a public key made in the browser', async () => {
  await page.goto('/devices');
  // Live: the browser has made the key pair the forms will send.
  await expect(page.getByTestId('public-key')).toHaveValue(/^[A-Za-z0-9+/]{43}=$/);
  const row = page.locator(`tr[data-device="${names[0]}"]`);
  await row.getByTestId('rekey-open').click();
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith('/api/devices/rekey') && r.method() === 'POST'),
    row.getByTestId('rekey-confirm').click(),
  ]);
  const sent = new URLSearchParams(request.postData() ?? '');
  expect([...sent.keys()].sort()).toEqual(['id', 'public_key']);
  const publicKey = sent.get('public_key')!;
  expect(publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  // The server made no private key: its answer has only the placeholder.
  const answer = await (await request.response())!.text();
  expect(answer).toContain('<private key stays on your device>');
  await expect(page.getByTestId('key-made-here')).toBeVisible();
  const config = await page.getByTestId('config-text').innerText();
  const privateKey = /PrivateKey = (\S+)/.exec(config)![1];
  expect(x25519Public(privateKey)).toBe(publicKey);
  expect(answer).not.toContain(privateKey);
});

test('a scanner reports the home network', async () => {
  await page.goto('/network');
  await page.fill('input[name=name]', 'layout scanner');
  await page.click('button:has-text("Create token")');
  const token = (await page.getByTestId('scanner-token').locator('pre').first().innerText()).trim();
  // The set-up steps name this portal and keep the token off the command line.
  const steps = await page.getByTestId('scanner-setup').innerText();
  expect(steps).toContain(`--portal ${baseURL} --token-file /etc/truevault/scanner.token`);
  expect(steps).not.toContain('--token=');
  const hosts = [
    { mac: 'c0:25:e9:00:01:01', ip: '192.168.7.1', vendor: 'TP-Link', device_type: 'router', open_ports: [80, 443] },
    { mac: '44:19:b6:00:01:10', ip: '192.168.7.10', vendor: 'Hikvision', device_type: 'camera', is_camera: true,
      stream_url: 'rtsp://192.168.7.10:554/Streaming/Channels/101', open_ports: [80, 554, 8000, 37777],
      services: [{ kind: '_http._tcp', port: 80 }, { kind: '_smb._tcp' }, { kind: 'onvif' }] },
    { mac: '3c:2a:f4:00:01:20', ip: '192.168.7.20', vendor: 'Brother', device_type: 'printer', hostname: 'brother-hl-l2350dw-office-upstairs',
      open_ports: [631, 9100], services: [{ kind: '_ipp._tcp', name: 'Brother HL-L2350DW series', port: 631 }] },
  ];
  const res = await page.request.post('/api/v1/inventory/sync', {
    headers: { Authorization: `Bearer ${token}` },
    data: { full_scan: true, network: '192.168.7.0/24', agent: 'layout', hosts },
  });
  expect(res.status()).toBe(200);
  await page.reload();
  const printer = page.locator('tr[data-mac="3c:2a:f4:00:01:20"]');
  // Services read as what they are, and ports stay whole.
  await expect(printer).toContainText('printer (IPP)');
  await expect(page.locator('tr[data-mac="44:19:b6:00:01:10"] li', { hasText: '37777' })).toHaveCount(1);
  // Device icons are drawn (SVG), not emoji.
  await expect(printer.locator('svg.icon use')).toHaveAttribute('href', '/pkg/icons.svg#printer');
});

/** Words inside buttons that the browser broke over two lines. */
async function brokenLabels(p: Page): Promise<string[]> {
  return p.evaluate(() => {
    const out: string[] = [];
    const controls = document.querySelectorAll('button, .btn, summary');
    for (const el of Array.from(controls)) {
      const box = (el as HTMLElement).getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = n.textContent ?? '';
        for (const m of text.matchAll(/\S+/g)) {
          const r = document.createRange();
          r.setStart(n, m.index!);
          r.setEnd(n, m.index! + m[0].length);
          const lines = new Set(Array.from(r.getClientRects()).filter((q) => q.width > 0).map((q) => Math.round(q.top)));
          if (lines.size > 1) out.push(`"${m[0]}" in "${(el.textContent ?? '').trim()}"`);
        }
      }
    }
    return out;
  });
}

/** The page is live: the footer's time switch (client-only) reacts. */
async function expectLive(p: Page) {
  const sw = p.getByTestId('time-switch');
  const before = (await sw.innerText()).trim();
  await expect.poll(async () => {
    await sw.click();
    return (await sw.innerText()).trim();
  }, { timeout: 20_000, message: `${p.url()} hydrates` }).not.toBe(before);
  // Put it back so screenshots show times in words.
  await sw.click();
  await expect(sw).toHaveText(before);
}

test('every page fits a phone and a desktop, and hydrates', async () => {
  test.setTimeout(300_000);
  const lanLink = await (async () => {
    await page.goto('/network');
    return page.locator('tr[data-mac="3c:2a:f4:00:01:20"] a').first().getAttribute('href');
  })();
  const pages: [string, string][] = [
    ['landing', '/'],
    ['pricing', '/pricing'],
    ['login', '/login'],
    ['register', '/register'],
    ['forgot', '/forgot'],
    ['reset', '/reset?token=x'],
    ['verify', '/verify?token=x'],
    ['dashboard', '/dashboard'],
    ['devices', '/devices'],
    ['device-usage', `/devices/${deviceIds[2]}`],
    ['network', '/network'],
    ['network-device', lanLink!],
    ['cameras', '/cameras'],
    ['certificates', '/certificates'],
    ['billing', '/billing'],
    ['account', '/account'],
    ['admin-users', '/admin/users'],
    ['admin-servers', '/admin/servers'],
    ['admin-usage', '/admin/usage'],
    ['admin-themes', '/admin/themes'],
    ['admin-theme-edit', '/admin/themes/1'],
    ['admin-plans', '/admin/plans'],
    ['admin-outbox', '/admin/outbox'],
    ['admin-jobs', '/admin/jobs'],
    ['admin-mail', '/admin/mail'],
    ['admin-audit', '/admin/audit'],
    // Error pages
    ['not-found', '/no/such/page'],
    ['device-not-found', '/devices/999999'],
    ['camera-not-found', '/cameras/999999'],
    ['invoice-not-found', '/billing/invoices/999999'],
  ];
  const problems: string[] = [];
  for (const [width, height] of [[390, 844], [1280, 800]]) {
    await page.setViewportSize({ width, height });
    for (const [name, path] of pages) {
      const res = await page.goto(path);
      expect(res!.status(), path).toBeLessThan(500);
      await expectLive(page);
      // Open every "are you sure" panel too: they must fit as well.
      for (const d of await page.locator('details.confirm').all()) {
        if (await d.isVisible()) await d.locator('summary').click();
      }
      const { scroll, client } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
      }));
      if (scroll > client) problems.push(`${path} at ${width}px scrolls sideways by ${scroll - client}px`);
      for (const b of await brokenLabels(page)) problems.push(`${path} at ${width}px breaks ${b}`);
      await shot(page, `layout-${name}-${width}`);
    }
  }
  expect(problems).toEqual([]);
  expect(consoleProblems).toEqual([]);
});
