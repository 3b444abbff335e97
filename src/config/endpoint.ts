import { z } from 'zod';

/** True for hosts that never leave this machine: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * A vendor's URL in a policy or intent rule. [PRIV-7] what leaves travels only over verified
 * TLS; plain http only to this machine (tests, the example receiver, local bridges).
 */
export const vendorEndpoint = z.string().superRefine((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected an https:// URL, got "${text}"` });
    return;
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  ctx.addIssue({ code: 'custom', message: `expected an https:// URL (http:// only for 127.0.0.1 or localhost), got "${text}"` });
});
