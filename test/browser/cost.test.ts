// The Cost view in headless Chromium against the real estimator: the table and charts for the
// default case, a rejected input named by field, and the operator's own hardware persisted.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveScreenshot } from '../support/browser.js';
import { startHeadlessApp, type HeadlessApp } from '../support/headless-app.js';

let app: HeadlessApp;

beforeAll(async () => {
  app = await startHeadlessApp();
});

afterAll(async () => {
  await app?.close();
});

describe('Cost view', () => {
  it('estimates Llama-3-8B on an L40S for every format, with charts', async () => {
    const { page, errors } = await app.open();
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Cost' }).click();

    const table = page.getByRole('table', { name: 'Cost estimate per KV format' });
    await expect.poll(() => table.locator('thead th').allTextContents()).toEqual(['', 'fp16', 'q8_0', 'q4_0', 'kivi2', 'rvq:4', 'rvq:8']);
    const bytesRow = table.getByRole('row', { name: /^KV bytes per token/ });
    expect(await bytesRow.locator('td').allTextContents()).toEqual(['131,072', '69,632', '36,864', '24,576', '12,352', '23,616']);
    // both decode speeds, labelled; with no sweep measured here the measured one leads and says so
    const decodeRows = await table.getByRole('row', { name: /^decode tokens\/s per user/ }).locator('th').allTextContents();
    expect(decodeRows).toEqual(['decode tokens/s per user, as measured by ResKV on this machine', 'decode tokens/s per user, with a fused RVQ attention kernel (projection)']);
    expect(new Set(await table.getByRole('row', { name: /as measured by ResKV/ }).locator('td').allTextContents())).toEqual(new Set(['not measured']));
    expect(await page.locator('.chart .recharts-wrapper').count()).toBe(2);
    expect(await page.locator('.recharts-line').count()).toBeGreaterThanOrEqual(6);
    await saveScreenshot(page, 'cost');

    // An absurd input is rejected by the backend, which names the field.
    await page.getByLabel('Concurrent conversations').fill('0');
    await page.getByRole('button', { name: 'Estimate' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('workload.users');
    await page.getByLabel('Concurrent conversations').fill('32');

    // The operator's own GPU is saved in the data folder and becomes selectable.
    await page.getByText('Your own hardware').click();
    const fields: Array<[string, string]> = [
      ['Id', 'lab-gpu'],
      ['Name', 'Lab GPU 24GB'],
      ['Vendor', 'Acme'],
      ['Memory (GiB)', '24'],
      ['Bandwidth (GB/s)', '1000'],
      ['Dense FP16 TFLOPS', '150'],
      ['Board power (W)', '300'],
      ['Purchase price (USD)', '2500'],
    ];
    for (const [label, value] of fields) await page.getByLabel(label, { exact: true }).fill(value);
    await page.getByRole('button', { name: 'Save hardware' }).click();
    await expect.poll(() => page.getByLabel('GPU', { exact: true }).inputValue()).toBe('lab-gpu');
    const saved = JSON.parse(await readFile(join(app.dataDir, 'hardware-user.json'), 'utf8'));
    expect(JSON.stringify(saved)).toContain('lab-gpu');

    await page.getByRole('button', { name: 'Estimate' }).click();
    await expect.poll(() => page.locator('.header-lines').textContent()).toContain('Lab GPU 24GB');
    // The only console error is the browser's log of the deliberately rejected request.
    expect(errors).toEqual(['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await page.close();
  });
});
