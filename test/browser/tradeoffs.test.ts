// The Tradeoffs view in headless Chromium with the real engine on stories260K and two small codebook
// sets (strided and contiguous keys): a small sweep run from the form, its curves charted against
// depth, and the acceptable perplexity increase marking the smallest depth within it; then the Cost
// view prefilled with the sweep's quality and the Report (and its export) carrying the choice.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TradeoffHistory } from '../../main/api/types.js';
import { calibrateModel } from '../../main/engine/calibration/calibrate.js';
import { saveScreenshot } from '../support/browser.js';
import { importStories260K, startHeadlessApp, type HeadlessApp } from '../support/headless-app.js';
import { fixtures, haveFixtures } from '../support/shared.js';

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('Tradeoffs view', () => {
  let app: HeadlessApp;

  beforeAll(async () => {
    app = await startHeadlessApp();
    const folder = await importStories260K(app);
    // Small sets so the test stays quick; groups of 16 of the token's 32 channels, so strided and
    // contiguous keys really group differently.
    const text = { kind: 'files' as const, paths: [fixtures.validSample] };
    await calibrateModel(folder, { text, settings: { depth: 4, codebookSize: 64, groupSize: 16, maxVectors: 2000, name: 'strided' } });
    await calibrateModel(folder, { text, settings: { depth: 4, codebookSize: 64, groupSize: 16, maxVectors: 2000, name: 'contiguous', keyGrouping: 'contiguous' } });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('runs a small sweep, charts it against depth and marks the smallest acceptable depth', async () => {
    const { page, errors } = await app.open();
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Tradeoffs' }).click();
    await expect.poll(() => page.getByText('No sweep of stories260K kept yet').count()).toBe(1);

    await page.getByLabel('Text file').fill(fixtures.validSample);
    await page.getByLabel('Tokens to score').fill('128');
    await page.getByLabel('Latency context').fill('32');
    await page.getByLabel('Latency steps').fill('4');
    await page.getByRole('button', { name: 'Run sweep' }).click();
    const status = page.getByLabel('Depth sweep of stories260K on tinystories-valid-sample.txt').getByRole('status');
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toMatch(/^done: 12 caches measured over 128 tokens; kept/);
    expect(await page.getByRole('button', { name: 'Run sweep' }).isEnabled()).toBe(true);

    // One line per codebook set in every chart; the scalar formats as labelled reference lines.
    const perplexity = page.getByRole('figure', { name: 'Perplexity increase against residual depth' });
    await expect.poll(() => perplexity.locator('.recharts-line').count()).toBe(2);
    expect(await perplexity.locator('.recharts-line-dots circle, .recharts-line-dot').count()).toBe(8);
    const legend = await perplexity.locator('.recharts-legend-item-text').allTextContents();
    expect(legend).toEqual(['contiguous (keys contiguous, values contiguous)', 'strided (keys strided, values contiguous)']);
    for (const format of ['q8_0', 'q4_0', 'kivi2']) expect(await perplexity.getByText(format, { exact: true }).count()).toBe(1);
    expect(await page.getByRole('figure', { name: 'KV bytes per token against residual depth' }).getByText('fp16', { exact: true }).count()).toBe(1);
    expect(await page.getByRole('figure').count()).toBe(5);
    expect(await page.getByRole('table', { name: 'Measured points' }).locator('tbody tr').count()).toBe(12);
    // latency: the median of 5 interleaved rounds, their range as error bars and in the table; nothing else ran meanwhile
    const latency = page.getByRole('figure', { name: 'Decode latency against residual depth' });
    expect(await latency.locator('figcaption').textContent()).toContain('median of 5 interleaved rounds, bars: their range');
    expect(await latency.locator('.recharts-errorBar').count()).toBeGreaterThan(0);
    expect(await page.getByRole('table', { name: 'Measured points' }).locator('tbody tr td:nth-of-type(9)').first().textContent()).toMatch(/^\d+\.\d\d \(\d+\.\d\d–\d+\.\d\d\)$/);
    expect(await page.getByTestId('latency-disturbed').count()).toBe(0);

    // The threshold sits at one measured point, so at least that depth meets it; the expected depth is
    // worked out here from the kept measurements.
    const [run] = ((await app.backend.call('tradeoffs.list', ['stories260K'])) as TradeoffHistory).runs;
    const threshold = run.points.find((p) => p.label === 'rvq:strided d3')!.perplexityChangePercent;
    const meeting = run.points.filter((p) => p.rvq && p.perplexityChangePercent <= threshold).map((p) => p.rvq!.depth);
    const expected = Math.min(...meeting);
    await page.getByLabel('Acceptable perplexity increase (%)').fill(String(threshold));
    const chosen = page.getByTestId('chosen-depth');
    await expect.poll(() => chosen.textContent()).toContain(`: depth ${expected} of `);
    expect(await perplexity.getByText(`depth ${expected}`, { exact: true }).count()).toBe(1);
    expect(await page.locator('tr[aria-current="true"] th').textContent()).toMatch(new RegExp(`^rvq:\\w+ d${expected}$`));
    await saveScreenshot(page, 'tradeoffs');

    const below = Math.floor(Math.min(...run.points.filter((p) => p.rvq).map((p) => p.perplexityChangePercent))) - 1;
    await page.getByLabel('Acceptable perplexity increase (%)').fill(String(below));
    await expect.poll(() => chosen.textContent()).toBe(`No swept depth keeps the perplexity increase within ${below}%.`);
    await page.getByLabel('Acceptable perplexity increase (%)').fill('lots');
    await expect.poll(() => chosen.textContent()).toContain('must be a number');

    // The choice survives a reload, and the kept sweep is shown again, with the sweep job's outcome
    // (found among the backend's jobs by model, as a sweep still running would be).
    await page.getByLabel('Acceptable perplexity increase (%)').fill(String(threshold));
    await page.reload();
    const nav = page.getByRole('navigation', { name: 'Views' });
    await nav.getByRole('button', { name: 'Tradeoffs' }).click();
    await expect.poll(() => page.getByTestId('chosen-depth').textContent()).toContain(`: depth ${expected} of `);
    await expect.poll(() => status.textContent()).toMatch(/^done: 12 caches measured over 128 tokens; kept/);
    const chosenSet = /^rvq:(\w+) d/.exec((await page.locator('tr[aria-current="true"] th').textContent())!)![1];

    // Cost: the measured model and the chosen depth's set prefill the form, and the sweep's perplexity
    // changes go with the formats it measured.
    await nav.getByRole('button', { name: 'Cost' }).click();
    await expect.poll(() => page.getByRole('note', { name: 'Measured quality' }).textContent()).toContain(`stories260K on tinystories-valid-sample.txt (128 tokens`);
    expect(await page.getByLabel('Model', { exact: true }).inputValue()).toBe('library:stories260K');
    expect(await page.getByRole('textbox', { name: 'Context length' }).inputValue()).toBe('512');
    // The headline weighs the measured quality against the acceptable loss (the threshold set above).
    await expect.poll(() => page.getByTestId('cost-headline').textContent()).toMatch(/^Recommended: /);
    const pareto = page.getByRole('figure', { name: 'Quality loss against monthly cost' });
    // the chart follows the headline as the measured losses reach it: polled, like the headline
    await expect.poll(() => pareto.getByText('acceptable', { exact: true }).count()).toBe(1);
    await expect.poll(() => pareto.getByText('not measured', { exact: true }).count()).toBe(0); // every format was measured
    await page.getByText('Every figure per format').click();
    const table = page.getByRole('table', { name: 'Cost estimate per KV format' });
    // fp16 KV bytes per token of the measured model itself (640), not a preset's.
    await expect.poll(() => table.getByRole('row', { name: /^KV bytes per token/ }).locator('td').first().textContent()).toBe('640');
    await expect.poll(() => table.locator('thead th').allTextContents()).toEqual(['', 'fp16', 'q8_0', 'q4_0', 'kivi2', 'rvq:1:64:16', 'rvq:2:64:16', 'rvq:3:64:16', 'rvq:4:64:16']);
    const measuredRow = table.getByRole('row', { name: /^measured perplexity change/ });
    const percent = (label: string) => `${run.points.find((p) => p.label === label)!.perplexityChangePercent.toFixed(2)}%`;
    await expect
      .poll(() => measuredRow.locator('td').allTextContents())
      .toEqual(['fp16', 'q8_0', 'q4_0', 'kivi2', ...[1, 2, 3, 4].map((d) => `rvq:${chosenSet} d${d}`)].map(percent));

    // Report: the acceptable loss, the chosen depth, and the sweep's charts and table.
    await nav.getByRole('button', { name: 'Report' }).click();
    const facts = page.getByRole('definition').filter({ hasText: 'codebook set' });
    await expect.poll(() => facts.textContent()).toBe(`${expected} (codebook set ${chosenSet}, keys ${chosenSet === 'strided' ? 'strided' : 'contiguous'})`);
    expect(await page.locator('.report').getByText(`${threshold}%`, { exact: true }).count()).toBe(1);
    await expect.poll(() => page.locator('.report .chart .recharts-wrapper').count()).toBe(7);
    expect(await page.locator('.report').getByRole('table', { name: 'Measured points' }).locator('tbody tr').count()).toBe(12);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export HTML' }).click()]);
    const html = await readFile((await download.path())!, 'utf8');
    expect(html).toContain('Chosen depth');
    expect(html).toContain(`rvq:${chosenSet} d${expected}`);
    expect(html.match(/class="recharts-surface"/g)?.length).toBeGreaterThanOrEqual(7);
    expect(errors).toEqual([]);
    await page.close();
  });
});
