// WebGPU on a machine without a GPU: Debian's chromium package ships SwiftShader's Vulkan driver and
// a Vulkan loader, which Dawn (inside onnxruntime-node's WebGPU provider) finds through these
// variables. They must be set before the process starts (the loader reads LD_LIBRARY_PATH once), so
// the `gpu` test project passes them to its workers (vitest.config.ts).
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const chromiumDir = '/usr/lib/chromium';
export const swiftShaderIcd = join(chromiumDir, 'vk_swiftshader_icd.json');

/** The environment that points Vulkan at SwiftShader, or {} where chromium's copy is not installed. */
export function softwareGpuEnv(): Record<string, string> {
  if (!existsSync(swiftShaderIcd)) return {};
  // Dawn wants a private runtime folder (mode 700)
  const runtimeDir = join(tmpdir(), `reskv-xdg-${userInfo().uid}`);
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  const libraries = [chromiumDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return { VK_ICD_FILENAMES: swiftShaderIcd, XDG_RUNTIME_DIR: runtimeDir, LD_LIBRARY_PATH: libraries };
}

/**
 * True when this process finds a WebGPU adapter (SwiftShader's, given softwareGpuEnv). Under CI=true
 * a missing adapter is an error (CI installs chromium); elsewhere the tests skip visibly.
 */
export async function haveWebGpu(): Promise<boolean> {
  const { probeProvider } = await import('../../main/engine/session.js');
  const probe = await probeProvider('webgpu');
  if (probe.available) return true;
  const message = `no WebGPU adapter (${probe.reason}); install chromium for SwiftShader's Vulkan driver`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`SKIPPING: ${message}`);
  return false;
}
