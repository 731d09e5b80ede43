// Personal certificates in Debian's Chromium: the page makes the key pair
// with WebCrypto, only a CSR is posted, and the certificate downloaded from
// the portal is a PEM certificate for the private key the browser offers.
import { test, expect } from '@playwright/test';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { shot } from './support';

const adminEmail = process.env.TRUEVAULT_E2E_ADMIN_EMAIL ?? 'admin@example.com';
const adminPassword = process.env.TRUEVAULT_E2E_ADMIN_PASSWORD ?? '';

test('a device certificate is issued from a key made in the browser', async ({ page, baseURL }) => {
  await page.goto('/login');
  await page.fill('input[name=email]', adminEmail);
  await page.fill('input[name=password]', adminPassword);
  await page.click('button:has-text("Sign in")');
  await expect(page).toHaveURL(/\/dashboard$/);
  // The admin's own account is on the free plan: make it a VIP (certificates included).
  const vip = await page.request.post('/api/admin/vip', {
    headers: { Origin: baseURL! },
    form: { email: adminEmail, vip: 'true' },
  });
  expect(vip.ok()).toBe(true);

  await page.goto('/certificates');
  await expect(page.getByTestId('no-certs')).toBeVisible();
  // The hint changes once the hydrated page has made its key pair.
  await expect(page.getByText('Made here: only a certificate request reaches TrueVault')).toBeVisible({ timeout: 20_000 });
  await page.fill('[data-testid=issue-cert] input[name="form[name]"]', 'e2e laptop');

  const posted = page.waitForRequest((r) => r.url().endsWith('/api/certs/issue'));
  await page.getByTestId('issue').click();
  const form = new URLSearchParams((await posted).postData() ?? '');
  expect(form.get('form[csr]')).toContain('BEGIN CERTIFICATE REQUEST');
  expect(form.get('form[password]') ?? '').toBe('');
  for (const v of form.values()) expect(v).not.toContain('PRIVATE KEY');
  await expect(page.getByTestId('issued')).toBeVisible();
  await expect(page.getByTestId('cert-row')).toHaveCount(1);
  await shot(page, 'certs-issued');

  const certDownload = page.waitForEvent('download');
  await page.getByTestId('issued-cert').click();
  const certPem = readFileSync(await (await certDownload).path()!, 'utf8');
  expect(certPem.startsWith('-----BEGIN CERTIFICATE-----')).toBe(true);
  expect(certPem.trim().endsWith('-----END CERTIFICATE-----')).toBe(true);

  const keyDownload = page.waitForEvent('download');
  await page.getByTestId('issued-key').click();
  const keyPem = readFileSync(await (await keyDownload).path()!, 'utf8');
  expect(keyPem).toContain('BEGIN PRIVATE KEY');

  const cert = new X509Certificate(certPem);
  expect(cert.subject).toContain('CN=e2e laptop');
  expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
  // Signed by the user's root, downloaded from the page.
  const rootDownload = page.waitForEvent('download');
  await page.getByTestId('root-download').click();
  const root = new X509Certificate(readFileSync(await (await rootDownload).path()!, 'utf8'));
  expect(cert.verify(root.publicKey)).toBe(true);
  expect(cert.checkIssued(root)).toBe(true);
});
