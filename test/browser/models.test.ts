// The Models view in headless Chromium: import the real stories260K checkpoint by path, watch the
// import job finish, see the model listed with its KV bytes per token, reject a bad path; calibrate a
// small codebook set on the bundled sample (a bad setting is named first), see it listed from its
// file, cancel a data-free calibration, delete the set and the model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSnapshot } from '../../main/api/types.js';
import { saveScreenshot } from '../support/browser.js';
import { startHeadlessApp, type HeadlessApp } from '../support/headless-app.js';
import { fixtures, haveFixtures } from '../support/shared.js';

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('Models view', () => {
  let app: HeadlessApp;

  beforeAll(async () => {
    app = await startHeadlessApp();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('imports, calibrates and deletes a model', async () => {
    const { page, errors } = await app.open();
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Models' }).click();
    await expect.poll(() => page.getByText('No models yet').count()).toBe(1);

    // A path that does not exist: the job fails and says why.
    await page.getByLabel('Checkpoint path').fill('/nonexistent/model.bin');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await expect.poll(() => page.locator('.job-failed .job-status').textContent()).toContain('/nonexistent/model.bin');

    await page.getByLabel('Checkpoint path').fill(fixtures.stories260K);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await expect.poll(() => page.locator('.job-done .job-status').textContent(), { timeout: 60_000 }).toContain("imported as 'stories260K'");
    const table = page.getByRole('table', { name: 'Installed models' });
    const row = table.getByRole('row', { name: /stories260K/ });
    await expect.poll(() => row.locator('td').allTextContents()).toEqual([
      'llama',
      expect.stringMatching(/^2\d\d,\d{3}$/),
      expect.stringMatching(/^float32 \(1015\.75 KiB in memory\)$/),
      expect.stringMatching(/MiB$/),
      '5 × 4 × 8',
      '640',
      '512',
      'not calibrated',
      'CalibrationDelete',
    ]);

    await row.getByRole('button', { name: 'Calibration' }).click();
    const panel = page.getByRole('region', { name: 'Calibration of stories260K' });
    await expect.poll(() => panel.getByText('No codebook sets yet').count()).toBe(1);
    const form = panel.getByRole('form', { name: 'Calibrate stories260K' });
    // the three text sources, data-free said as such; the bundled sample is the default
    expect(await form.getByLabel('Calibration text').locator('option').allTextContents()).toEqual([
      'Bundled sample: reskv-sample-stories.txt',
      'My text files',
      'Data-free: text the model samples itself',
    ]);
    expect(await form.getByText(/written for ResKV/).count()).toBe(1);
    // reskv calibrate's depth; the budget sized for the sample on this machine (2048 entries would get
    // under 2 vectors each), with the estimate, and no warning once sized
    expect(await form.getByLabel('Depth').inputValue()).toBe('8');
    const estimate = form.getByRole('status', { name: 'Calibration estimate' });
    await expect.poll(() => estimate.textContent(), { timeout: 30_000 }).toMatch(/^Estimated time on this machine: about \d+ (s|min) \(capture .*, training .*\)\. [\d,]+ tokens of text, [\d,]+ training vectors per layer, (3[2-9]|[4-9]\d)\.\d per codebook entry\.$/);
    const sized = Number(await form.getByLabel('Codebook size').inputValue());
    expect([16, 32, 64, 128, 256]).toContain(sized);
    expect(await form.locator('.notice').count()).toBe(0);
    // the defaults' 2048 entries by hand: the warning says how few vectors each gets and what to do
    await form.getByLabel('Codebook size').fill('2048');
    await expect.poll(() => form.locator('.notice').textContent(), { timeout: 30_000 }).toMatch(
      new RegExp(`^Too little text for this codebook: only 1\\.\\d training vectors per codebook entry \\([\\d]+ vectors for 2048 entries; .*\\): give more text, or a codebook size of at most ${sized}\\.$`),
    );

    await form.getByLabel('Set name').fill('small');
    await form.getByLabel('Depth').fill('0');
    await form.getByLabel('Codebook size').fill('256');
    await form.getByLabel('Max vectors').fill('1000');
    await form.getByRole('button', { name: 'Calibrate' }).click();
    await expect.poll(() => form.locator('p.error').textContent()).toContain('Depth: must be at least 1');

    await form.getByLabel('Depth').fill('3');
    await form.getByRole('button', { name: 'Calibrate' }).click();
    await expect.poll(() => panel.locator('.job-done .job-status').textContent(), { timeout: 120_000 }).toContain('codebook set "small"');
    expect(await form.locator('p.error').count()).toBe(0);
    const sets = panel.getByRole('table', { name: 'Codebook sets of stories260K' });
    // stories260K: one group of 32 channels per token, 3 codes of 8 bits + one fp16 scale = 40 bits per 32 values
    await expect.poll(() => sets.getByRole('row', { name: /small/ }).locator('td').allTextContents()).toEqual([
      'depth 3 × 256 entries, groups of 32 (strided, token span, fp16 scale per token)',
      'depth 3 × 256 entries, groups of 32 (contiguous, token span, fp16 scale per token)',
      '1.25 / 1.25',
      'reskv-sample-stories.txt (25 documents)',
      '1,000',
      '0',
      expect.stringMatching(/KiB$/),
      'Delete',
    ]);
    expect(await row.locator('td').nth(7).textContent()).toBe('small');
    await saveScreenshot(page, 'models');

    // data-free with a large budget, cancelled while the model samples its text: the set stays as it was
    await form.getByLabel('Calibration text').selectOption('self-generated');
    expect(await form.getByText(/data-free: the model writes its own calibration text/).count()).toBe(1);
    await form.getByLabel('Tokens to sample').fill('1000000');
    await form.getByLabel('Set name').fill('free');
    await form.getByRole('button', { name: 'Calibrate' }).click();
    const running = panel.locator('.job-running');
    await expect.poll(() => running.locator('.job-status').textContent(), { timeout: 30_000 }).toContain('sampling calibration text');
    // one percentage for the run; the model table and the rail say a calibration runs
    expect((await running.locator('.job-status').textContent())!.match(/%/g)).toHaveLength(1);
    await expect.poll(() => row.locator('td').nth(7).textContent()).toMatch(/^small; calibrating… \d+%/);
    expect(await page.getByRole('status', { name: 'Background jobs' }).textContent()).toContain('Calibrate stories260K → "free"');
    await running.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => panel.locator('.job-cancelled .job-status').textContent(), { timeout: 30_000 }).toBe('cancelled');
    expect(await sets.locator('tbody th').allTextContents()).toEqual(['small']);
    expect(await page.getByRole('status', { name: 'Background jobs' }).count()).toBe(0);
    // finished job cards can be dismissed (and stay dismissed after a reload)
    const cards = await panel.locator('.job').count();
    await panel.getByRole('button', { name: 'Dismiss Calibrate stories260K → "free"' }).click();
    await expect.poll(() => panel.locator('.job').count()).toBe(cards - 1);
    expect(((await app.backend.call('jobs.list', [])) as JobSnapshot[]).map((j) => j.title)).not.toContain('Calibrate stories260K → "free"');

    page.once('dialog', (dialog) => void dialog.accept());
    await sets.getByRole('button', { name: 'Delete set small' }).click();
    await expect.poll(() => panel.getByText('No codebook sets yet').count()).toBe(1);
    expect(await row.locator('td').nth(7).textContent()).toBe('not calibrated');

    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => page.getByText('No models yet').count()).toBe(1);
    // the only console errors: the browser logging the HTTP 400s that answered depth 0 (the plan's and Calibrate's)
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(new Set(errors)).toEqual(new Set(['Failed to load resource: the server responded with a status of 400 (Bad Request)']));
    await page.close();
  });
});
