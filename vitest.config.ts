import { defineConfig } from 'vitest/config';
import { softwareGpuEnv } from './test/support/software-gpu.js';

// Three projects: fast unit tests in plain Node, WebGPU tests on SwiftShader (chromium's software
// Vulkan, so no GPU is needed), and browser tests that drive Debian's Chromium.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          environment: 'node',
          env: softwareGpuEnv(),
          // SwiftShader runs shaders on the CPU: slow, and one file at a time on a small machine
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/support/build-app.ts'],
          // The UI waits on a real backend on a 2-core machine: give expect.poll room.
          expect: { poll: { timeout: 20_000, interval: 100 } },
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
