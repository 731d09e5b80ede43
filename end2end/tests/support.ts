// Helpers for the journeys: reading mail from the loopback SMTP server's
// maildir and computing RFC 6238 codes like an authenticator app.
import { createHmac, createPrivateKey, createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, Page } from '@playwright/test';

export const MAILDIR = process.env.TRUEVAULT_E2E_MAILDIR ?? '';
export const ARTIFACTS = process.env.TRUEVAULT_E2E_ARTIFACTS ?? 'artifacts';

function decodeBody(raw: string): string {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  let body = rest.join('\n\n');
  const enc = /content-transfer-encoding:\s*([\w-]+)/i.exec(head)?.[1]?.toLowerCase();
  if (enc === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    body = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  }
  return head + '\n\n' + body;
}

function mails(): string[] {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    let names: string[] = [];
    try { names = readdirSync(join(MAILDIR, sub)); } catch { continue; }
    for (const n of names) out.push(decodeBody(readFileSync(join(MAILDIR, sub, n), 'utf8')));
  }
  return out;
}

/** Waits (with a deadline) for a mail to `to` with `subject` not seen before and returns the link in it. */
export async function linkFromMail(to: string, subject: string, path: string, seen: Set<string>): Promise<string> {
  let link = '';
  await expect.poll(() => {
    for (const m of mails()) {
      if (!m.includes(`To: ${to}`) || !m.includes(`Subject: ${subject}`)) continue;
      const match = new RegExp(`https?://[^\\s]+${path.replace('?', '\\?')}[A-Za-z0-9_-]+`).exec(m);
      if (match && !seen.has(match[0])) { link = match[0]; seen.add(link); return true; }
    }
    return false;
  }, { timeout: 20_000, message: `mail "${subject}" to ${to}` }).toBe(true);
  return link;
}

function base32(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, value = 0; const out: number[] = [];
  for (const c of s.replace(/=+$/, '')) {
    value = (value << 5) | alphabet.indexOf(c); bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

export function totp(secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', base32(secret)).update(counter).digest();
  const o = h[19] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

export const nowStep = () => Math.floor(Date.now() / 1000 / 30);

/** Waits until the wasm bundle has hydrated the page: a client-only toggle reacts. */
export async function expectHydrated(page: Page, toggle: string, input: string) {
  await expect.poll(async () => {
    await page.locator(toggle).click();
    return page.locator(input).getAttribute('type');
  }, { timeout: 20_000, message: 'the page hydrates (show-password toggle works)' }).toBe('text');
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The x25519 public key of a base64 private key, computed by Node itself. */
export function x25519Public(privateB64: string): string {
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), Buffer.from(privateB64, 'base64')]);
  const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  return Buffer.from(spki.subarray(spki.length - 32)).toString('base64');
}
