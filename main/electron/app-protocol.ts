// The app:// protocol that serves the built renderer inside Electron (plain Node; main.ts registers it
// with Electron). A privileged custom scheme instead of file:// gives the page one exact origin,
// app://reskv, that IPC checks can compare, no access to other local files, and a CSP header.
import { findStaticFile, type StaticFile } from '../server/static-files.js';

export const appScheme = 'app';
export const appHost = 'reskv';
/** The origin of every page the app loads itself. */
export const appOrigin = `${appScheme}://${appHost}`;
export const appEntryUrl = `${appOrigin}/index.html`;

/**
 * The origin of `url` as Electron compares it. WHATWG URL gives custom schemes the opaque origin
 * "null", so for app:// it is scheme and host; null for a URL that does not parse.
 */
export function originOf(url: string): string | null {
  if (!URL.canParse(url)) return null;
  const parsed = new URL(url);
  return parsed.protocol === `${appScheme}:` ? `${appScheme}://${parsed.host}` : parsed.origin;
}

/**
 * The renderer file (under `rendererDir`) that an app:// request names, with its headers (the CSP
 * among them); null for another scheme or host, a path leaving the folder, a missing file or
 * malformed percent-encoding.
 */
export async function appFileFor(url: string, rendererDir: string): Promise<StaticFile | null> {
  if (originOf(url) !== appOrigin) return null;
  return findStaticFile(rendererDir, new URL(url).pathname).catch(() => null);
}
