// The Models view in headless Chromium: import the real stories260K checkpoint by path, watch the
// import job finish, see the model listed with its KV bytes per token, reject a bad path, delete it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('imports, lists and deletes a model', async () => {
    const { page, errors } = await app.open();
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Models' }).click();
    await expect.poll(() => page.getByText('No models yet').count()).toBe(1);

    // A path that does not exist: the job fails and says why.
    await page.getByLabel('Checkpoint path').fill('/nonexistent/model.bin');
    await page.getByRole('button', { name: 'Import' }).click();
    await expect.poll(() => page.locator('.job-failed .job-status').textContent()).toContain('/nonexistent/model.bin');

    await page.getByLabel('Checkpoint path').fill(fixtures.stories260K);
    await page.getByRole('button', { name: 'Import' }).click();
    await expect.poll(() => page.locator('.job-done .job-status').textContent(), { timeout: 60_000 }).toContain("imported as 'stories260K'");
    const table = page.getByRole('table', { name: 'Installed models' });
    const row = table.getByRole('row', { name: /stories260K/ });
    await expect.poll(() => row.locator('td').allTextContents()).toEqual([
      'llama',
      expect.stringMatching(/^2\d\d,\d{3}$/),
      'float32',
      expect.stringMatching(/MiB$/),
      '5 × 4 × 8',
      '640',
      '512',
      'not calibrated',
      'Delete',
    ]);
    await saveScreenshot(page, 'models');

    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => page.getByText('No models yet').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });
});
