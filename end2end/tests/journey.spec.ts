// The account journey in a real browser against the release binary:
// register → mailed verification → sign in → TOTP on → sign out → sign in
// with a code → admin changes a theme colour → password reset by mail.
import { test, expect } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expectHydrated, linkFromMail, nowStep, shot, totp, x25519Public } from './support';

const email = `e2e-${Date.now()}@example.com`;
const password = 'a long enough passphrase';
const newPassword = 'another long passphrase';
let passwordWasReset = false;
const newPasswordOrOld = () => (passwordWasReset ? newPassword : password);
const adminEmail = process.env.TRUEVAULT_E2E_ADMIN_EMAIL ?? 'admin@example.com';
const adminPassword = process.env.TRUEVAULT_E2E_ADMIN_PASSWORD ?? '';
const seen = new Set<string>();

test.describe.configure({ mode: 'serial' });

let totpSecret = '';
let enrolledStep = 0;

async function signIn(page, who: string, pass: string) {
  await page.goto('/login');
  await expectHydrated(page, '[data-testid=toggle-password]', 'input[name=password]');
  await page.fill('input[name=email]', who);
  await page.fill('input[name=password]', pass);
  await page.click('button:has-text("Sign in")');
}

async function secondFactor(page) {
  await expect(page).toHaveURL(/\/login\/totp$/);
  // Each code is accepted once, and only the steps around now are valid:
  // wait (if needed) until the step after the last used one is in reach,
  // as a person would wait for the app's next code.
  await expect.poll(() => nowStep() + 1 > enrolledStep, { timeout: 45_000, message: 'next TOTP step' }).toBe(true);
  enrolledStep = Math.max(nowStep(), enrolledStep + 1);
  await page.fill('input[name=code]', totp(totpSecret, enrolledStep));
  await page.click('button:has-text("Verify")');
  await expect(page).toHaveURL(/\/dashboard$/);
}

test('landing and pricing render plans from the database', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('h1')).toContainText('Your home, private everywhere');
  await shot(page, 'landing');
  await page.goto('/pricing');
  await expect(page.locator('[data-plan=personal]')).toContainText('$9.99');
  await expect(page.locator('[data-plan=business]')).toContainText('$29.99');
  await shot(page, 'pricing');
});

test('register, verify by mail, sign in', async ({ page }) => {
  await page.goto('/register');
  await expectHydrated(page, '[data-testid=toggle-password]', 'input[name=password]');
  await shot(page, 'register');
  await page.fill('input[name=first_name]', 'Eve');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('button:has-text("Create account")');
  await expect(page.locator('.notice.success')).toContainText('Check your inbox');

  const link = await linkFromMail(email, 'Confirm your e-mail address', '/verify?token=', seen);
  await page.goto(link);
  await page.click('button:has-text("Confirm my e-mail")');
  await expect(page).toHaveURL(/\/login\?verified=1$/);
  await expect(page.locator('.notice.success')).toContainText('confirmed');

  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByTestId('dashboard-title')).toContainText('Welcome back, Eve');
  await expect(page.locator('.facts')).toContainText(email);
  await shot(page, 'dashboard');
});

test('enable two-factor, sign out, sign in with a code', async ({ page }) => {
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/dashboard$/);
  await page.goto('/account');
  await page.click('button:has-text("Set up two-factor")');
  totpSecret = (await page.getByTestId('totp-secret').innerText()).trim();
  expect(totpSecret).toMatch(/^[A-Z2-7]{32}$/);
  enrolledStep = nowStep();
  await page.fill('[data-testid=twofa] input[name=code]', totp(totpSecret, enrolledStep));
  await page.click('button:has-text("Turn on")');
  await expect(page.getByTestId('recovery-codes').locator('li')).toHaveCount(10);
  await shot(page, 'account-2fa');

  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page, email, password);
  // A wrong code is refused with a clear message.
  await expect(page).toHaveURL(/\/login\/totp$/);
  await page.fill('input[name=code]', '000000');
  await page.click('button:has-text("Verify")');
  await expect(page.locator('.notice.error')).toHaveAttribute('data-code', 'INVALID_TOTP');
  await secondFactor(page);
  await expect(page.getByTestId('dashboard-title')).toBeVisible();
});

test('an admin changes a theme colour and the page follows', async ({ page }) => {
  expect(adminPassword, 'run.sh creates the admin and passes its password').not.toBe('');
  await signIn(page, adminEmail, adminPassword);
  await expect(page).toHaveURL(/\/dashboard$/);
  const before = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--colors-primary').trim());
  expect(before).toBe('#00d9ff');
  await page.goto('/admin/themes');
  await shot(page, 'admin-themes');
  await page.click('a:has-text("TrueVault Dark")');
  const row = page.locator('tr[data-var="--colors-primary"]');
  await row.locator('input[name=value]').fill('#ff00aa');
  await row.locator('button:has-text("Save")').click();
  await expect(page.locator('[data-testid=theme-save-result] .notice.success')).toContainText('Saved --colors-primary');
  await shot(page, 'admin-theme-edit');
  await page.goto('/dashboard');
  const after = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--colors-primary').trim());
  expect(after).toBe('#ff00aa');
  // An injection attempt is refused with a clear error.
  await page.goto('/admin/themes');
  await page.click('a:has-text("TrueVault Dark")');
  await row.locator('input[name=value]').fill('red;}</style><script>alert(1)</script>');
  await row.locator('button:has-text("Save")').click();
  await expect(page.locator('[data-testid=theme-save-result] .notice.error')).toHaveAttribute('data-code', 'VALIDATION_FAILED');
  await page.goto('/admin/users');
  await expect(page.getByTestId('users')).toContainText(email);
  await shot(page, 'admin-users');
  // Put the seed colour back for later runs against the same database.
  await page.goto('/admin/themes');
  await page.click('a:has-text("TrueVault Dark")');
  await row.locator('input[name=value]').fill('#00d9ff');
  await row.locator('button:has-text("Save")').click();
  await expect(page.locator('[data-testid=theme-save-result] .notice.success')).toContainText('Saved');
});

test('admin adds a server; the user adds a device with a key made in the browser', async ({ page, request }) => {
  await signIn(page, adminEmail, adminPassword);
  await expect(page).toHaveURL(/\/dashboard$/);
  await page.goto('/admin/servers');
  await page.fill('input[name=name]', 'e2e-1');
  await page.fill('input[name=region]', 'eu');
  await page.fill('input[name=endpoint_host]', 'vpn.example.net');
  await page.fill('input[name=ipv4_pool]', '10.77.0.0/16');
  await page.click('button:has-text("Add server")');
  const tokenText = await page.getByTestId('node-token').locator('pre').innerText();
  const token = /--token=(\S+)/.exec(tokenText)![1];
  // A node enrolls with the one-time token (its key pair is its own).
  const enrolled = await request.post('/api/v1/nodes/enroll', {
    headers: { Authorization: `Bearer ${token}` },
    data: { public_key: randomBytes(32).toString('base64') },
  });
  expect(enrolled.status()).toBe(200);
  await page.reload();
  await expect(page.getByTestId('servers')).toContainText('e2e-1');
  await shot(page, 'admin-servers');
  await page.getByTestId('logout').click();

  await signIn(page, email, newPasswordOrOld());
  await secondFactor(page);
  await page.goto('/devices');
  await expect(page.getByTestId('no-devices')).toBeVisible();
  const publicInput = page.getByTestId('public-key');
  await expect(publicInput).toHaveValue(/^[A-Za-z0-9+/]{43}=$/);
  const browserPublic = await publicInput.inputValue();
  await page.fill('input[name=name]', "Eve's laptop");
  await page.click('button:has-text("Add device")');
  await expect(page.getByTestId('key-made-here')).toBeVisible();
  const config = await page.getByTestId('config-text').innerText();
  const privateKey = /PrivateKey = (\S+)/.exec(config)![1];
  expect(x25519Public(privateKey)).toBe(browserPublic);
  expect(config).toContain('Endpoint = vpn.example.net:51820');
  expect(config).toMatch(/Address = 10\.77\.0\.\d+\/32/);
  await expect(page.getByTestId('config-qr').locator('svg')).toBeVisible();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-config').click()]);
  expect(download.suggestedFilename()).toBe('tv-eves-laptop.conf');
  expect(readFileSync(await download.path(), 'utf8').trim()).toBe(config.trim());
  await expect(page.locator(`tr[data-device="Eve's laptop"]`)).toContainText('10.77.0.');
  await shot(page, 'devices');
});

test('a plan is bought with the test provider and its invoice opened', async ({ page }) => {
  await signIn(page, email, newPasswordOrOld());
  await secondFactor(page);
  await page.goto('/billing');
  const personal = page.locator('[data-plan=personal]');
  await personal.locator('select[name=provider]').selectOption('test');
  await personal.locator('button:has-text("Choose Personal")').click();
  await expect(page).toHaveURL(/\/billing\/test-pay\/[A-Za-z0-9_-]+$/);
  await expect(page.getByTestId('test-amount')).toHaveText('$9.99');
  await shot(page, 'test-provider');
  await page.getByTestId('test-pay').click();
  await expect(page).toHaveURL(/\/billing\?checkout=done$/);
  await expect(page.getByTestId('subscription-status')).toHaveText('Active');
  await page.getByTestId('invoices').locator('a').first().click();
  await expect(page.getByTestId('invoice-status')).toHaveText('paid');
  await expect(page.getByTestId('invoice-total')).toHaveText('$9.99');
  await shot(page, 'invoice');
});

test('a scanner token syncs the home network and the map shows it', async ({ page, request }) => {
  await signIn(page, email, newPasswordOrOld());
  await secondFactor(page);
  await page.goto('/network');
  await expect(page.getByTestId('no-lan-devices')).toBeVisible();
  await page.fill('input[name=name]', 'e2e scanner');
  await page.click('button:has-text("Create token")');
  const token = (await page.getByTestId('scanner-token').locator('pre').first().innerText()).trim();
  const hosts = [
    { mac: '44:19:b6:00:00:10', ip: '192.168.1.10', vendor: 'Hikvision', device_type: 'camera', is_camera: true,
      stream_url: 'rtsp://192.168.1.10:554/Streaming/Channels/101', open_ports: [80, 554] },
    { mac: 'c0:25:e9:00:00:01', ip: '192.168.1.1', vendor: 'TP-Link', device_type: 'router', open_ports: [80, 443] },
    { mac: 'b8:27:eb:00:00:11', ip: '192.168.1.11', vendor: 'Raspberry Pi', device_type: 'computer', open_ports: [22] },
  ];
  const res = await request.post('/api/v1/inventory/sync', {
    headers: { Authorization: `Bearer ${token}` },
    data: { full_scan: true, network: '192.168.1.0/24', agent: 'e2e', hosts },
  });
  expect(res.status()).toBe(200);
  expect(await res.json()).toEqual({ new: 3, updated: 0, offline: 0, cameras: 1 });
  await page.reload();
  await expect(page.getByTestId('lan-summary')).toHaveText('3 devices, 3 online, 1 camera');
  await expect(page.locator('svg.network-map .node.router')).toHaveCount(1);
  await expect(page.locator('tr[data-mac="44:19:b6:00:00:10"]')).toContainText('Camera');
  await expect(page.getByTestId('detected-cameras')).toContainText('Add camera');
  await shot(page, 'network');
});

test('reset the password through the mailed link', async ({ page }) => {
  await page.goto('/forgot');
  await page.fill('input[name=email]', email);
  await page.click('button:has-text("Send reset link")');
  await expect(page.locator('.notice.success')).toContainText('If an account exists');
  const link = await linkFromMail(email, 'Reset your TrueVault password', '/reset?token=', seen);
  await page.goto(link);
  await expectHydrated(page, '[data-testid=toggle-password]', 'input[name=password]');
  await page.fill('input[name=password]', newPassword);
  await page.click('button:has-text("Save new password")');
  await expect(page).toHaveURL(/\/login\?reset=1$/);
  // The old password no longer works; the new one does (then the code).
  await signIn(page, email, password);
  await expect(page.locator('.notice.error')).toHaveAttribute('data-code', 'INVALID_CREDENTIALS');
  await signIn(page, email, newPassword);
  await secondFactor(page);
  await shot(page, 'after-reset');
  // The link was single-use.
  await page.goto(link);
  await page.fill('input[name=password]', 'yet another passphrase');
  await page.click('button:has-text("Save new password")');
  await expect(page.locator('.notice.error')).toHaveAttribute('data-code', 'INVALID_TOKEN');
});
