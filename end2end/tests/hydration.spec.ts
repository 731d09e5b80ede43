// Forms work whether or not the page has hydrated yet: a user who clicks
// before the wasm bundle is live gets the plain form post (the server
// redirects back and renders the new state), and one who clicks while it
// is hydrating still sees the list refresh. Also: a refusal shows the link
// to its fix next to its message.
import { test, expect, Page, Route } from '@playwright/test';
import { expectHydrated } from './support';

const adminEmail = process.env.TRUEVAULT_E2E_ADMIN_EMAIL ?? 'admin@example.com';
const adminPassword = process.env.TRUEVAULT_E2E_ADMIN_PASSWORD ?? '';

test.describe.configure({ mode: 'serial' });

async function signIn(page: Page) {
  await page.goto('/login');
  await expectHydrated(page, '[data-testid=toggle-password]', 'input[name=password]');
  await page.fill('input[name=email]', adminEmail);
  await page.fill('input[name=password]', adminPassword);
  await page.click('button:has-text("Sign in")');
  await expect(page).toHaveURL(/\/dashboard$/);
}

async function setVip(page: Page, baseURL: string, vip: boolean) {
  const r = await page.request.post('/api/admin/vip', {
    headers: { Origin: baseURL },
    form: { email: adminEmail, vip: String(vip) },
  });
  expect(r.ok()).toBe(true);
}

/** Holds every request for the wasm bundle until `release()` is called. */
async function holdWasm(page: Page) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let held = 0;
  await page.route(/\/pkg\/.*\.wasm$/, async (route: Route) => {
    held += 1;
    await gate;
    // The page that asked may be gone by now (the form navigated away).
    await route.continue().catch(() => {});
  });
  return { release, held: () => held };
}

async function fillCamera(page: Page, name: string) {
  const form = page.getByTestId('add-camera');
  await form.locator('input[name=name]').fill(name);
  await form.locator('select[name=vendor]').selectOption('generic');
  await form.locator('input[name=ip]').fill('127.0.0.1');
  await form.locator('input[name=main_stream_url]').fill('rtsp://127.0.0.1:8554/live');
  return form.locator('button:has-text("Add camera")');
}

test('a plan-limit refusal links to the upgrade', async ({ page, baseURL }) => {
  await signIn(page);
  // The admin's own account is on the free plan, which has no cameras.
  await setVip(page, baseURL!, false);
  await page.goto('/cameras');
  const sw = page.getByTestId('time-switch');
  const before = (await sw.innerText()).trim();
  await expect.poll(async () => { await sw.click(); return (await sw.innerText()).trim(); },
    { timeout: 20_000, message: 'the cameras page hydrates' }).not.toBe(before);
  await (await fillCamera(page, 'Over the limit')).click();
  const refusal = page.locator('.notice.error[data-code=CAMERA_LIMIT_EXCEEDED]');
  await expect(refusal).toBeVisible();
  await expect(refusal.locator('a.notice-fix')).toHaveAttribute('href', '/billing');
});

test('a camera added before the page hydrates shows in the grid', async ({ page, baseURL }) => {
  await signIn(page);
  await setVip(page, baseURL!, true);
  const wasm = await holdWasm(page);
  await page.goto('/cameras');
  await expect.poll(() => wasm.held(), { message: 'the page asked for its wasm bundle' }).toBeGreaterThan(0);
  const name = `Before hydration ${Date.now() % 100000}`;
  // The bundle is still held: this is the plain form post.
  await (await fillCamera(page, name)).click();
  // The server answers the post with a redirect back to the page.
  await expect(page).toHaveURL(/\/cameras\??$/);
  await expect(page.getByTestId('camera-tile').filter({ hasText: name })).toBeVisible();
  wasm.release();
});

test('a camera added while the page is hydrating shows in the grid', async ({ page, baseURL }) => {
  await signIn(page);
  await setVip(page, baseURL!, true);
  const wasm = await holdWasm(page);
  await page.goto('/cameras');
  await expect.poll(() => wasm.held(), { message: 'the page asked for its wasm bundle' }).toBeGreaterThan(0);
  const name = `During hydration ${Date.now() % 100000}`;
  const submit = await fillCamera(page, name);
  // Let the bundle load and submit at once, without waiting for it to be
  // live: whichever path the click takes, the new camera must show.
  wasm.release();
  await submit.click();
  await expect(page.getByTestId('camera-tile').filter({ hasText: name })).toBeVisible({ timeout: 20_000 });
  // And it is the server's state, not only the page's.
  await page.reload();
  await expect(page.getByTestId('camera-tile').filter({ hasText: name })).toHaveCount(1);
});
