// The Report view in headless Chromium: one click exports a self-contained HTML report with the
// machine, the models, the cost comparison and its charts (no scripts, nothing remote).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveScreenshot } from '../support/browser.js';
import { startHeadlessApp, type HeadlessApp } from '../support/headless-app.js';
import { testOutputDir } from '../support/paths.js';

let app: HeadlessApp;

beforeAll(async () => {
  app = await startHeadlessApp();
});

afterAll(async () => {
  await app?.close();
});

describe('Report view', () => {
  it('exports the PoC report as standalone HTML with the cost table and charts', async () => {
    const { page, errors } = await app.open();
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Report' }).click();
    await expect.poll(() => page.locator('.report .chart .recharts-wrapper').count()).toBe(2);
    // the Cost view's headline, charts and serving plan, and where each figure comes from
    const report = page.locator('.report');
    await expect.poll(() => report.getByTestId('cost-headline').textContent()).toMatch(/^Recommended: fp16, 2 GPUs, \$502\/month/);
    expect(await report.getByRole('figure', { name: 'Quality loss against monthly cost' }).count()).toBe(1);
    expect(await report.getByRole('figure', { name: 'Conversations per replica by format' }).count()).toBe(1);
    const provenance = report.getByRole('definition');
    expect(await report.locator('dl[aria-label="Where the cost figures come from"] dt').allTextContents()).toEqual(['Model costed', 'Quality measured on', 'Machine', 'Dates', 'Measured', 'Projected']);
    expect(await provenance.filter({ hasText: /^Llama-3-8B \(meta-llama/ }).count()).toBe(1);
    expect(await provenance.filter({ hasText: 'nothing: no quality measured for these formats' }).count()).toBe(1);
    expect(await page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth')).toBe(false);
    await saveScreenshot(page, 'report');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export HTML' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^reskv-report-\d{4}-\d{2}-\d{2}\.html$/);
    const file = join(testOutputDir, 'reports', download.suggestedFilename());
    await download.saveAs(file);
    const html = await readFile(file, 'utf8');
    expect(html).toContain('Cost comparison');
    expect(html).toContain('Recommended: fp16, 2 GPUs');
    expect(html).toContain('RVQ has no production serving support yet');
    expect(html).toContain('23,616'); // Llama-3-8B RVQ depth 8 KV bytes per token (codes, scales and the token's depth byte)
    expect(html.match(/<svg/g)?.length).toBeGreaterThanOrEqual(2);
    expect(html).not.toMatch(/<script|(src|href)=["']?https?:/i); // (SVG namespaces are names, not fetches)
    expect(await page.getByText('Report exported as HTML.').count()).toBe(1);

    // The exported file renders on its own.
    const viewer = await app.browser.newPage();
    await viewer.goto(`file://${file}`);
    expect(await viewer.locator('h2').allTextContents()).toEqual(['Machine', 'Models', 'Measured conversations', 'Quality, KV bytes and speed against residual depth', 'Task checks', 'Cost comparison']);
    await viewer.close();
    expect(errors).toEqual([]);
    await page.close();
  });
});
