// The account journey in a real browser against the release binary:
// register → mailed verification → sign in → TOTP on → sign out → sign in
// with a code → admin changes a theme colour → password reset by mail.
import { test, expect } from '@playwright/test';
import { expectHydrated, linkFromMail, nowStep, shot, totp } from './support';

const email = `e2e-${Date.now()}@example.com`;
const password = 'a long enough passphrase';
const newPassword = 'another long passphrase';
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
  await expect(page.locator('.notice.error')).toContainText('not valid');
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
  await expect(page.locator('[data-testid=theme-save-result] .notice.error')).toContainText('not allowed');
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
  await expect(page.locator('.notice.error')).toContainText('Invalid email or password');
  await signIn(page, email, newPassword);
  await secondFactor(page);
  await shot(page, 'after-reset');
  // The link was single-use.
  await page.goto(link);
  await page.fill('input[name=password]', 'yet another passphrase');
  await page.click('button:has-text("Save new password")');
  await expect(page.locator('.notice.error')).toContainText('invalid or has expired');
});
