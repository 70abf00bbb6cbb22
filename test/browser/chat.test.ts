// The Chat view in headless Chromium with the real engine on stories260K: a streamed fp16 reply with
// live figures, then an RVQ conversation (small calibration) whose KV figures drop with the depth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveScreenshot } from '../support/browser.js';
import { startCalibratedStoriesApp, type HeadlessApp } from '../support/headless-app.js';
import { fixtures, haveFixtures } from '../support/shared.js';

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('Chat view', () => {
  let app: HeadlessApp;

  beforeAll(async () => {
    app = await startCalibratedStoriesApp();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('streams a reply with live figures, and RVQ depth changes move the KV bytes', async () => {
    const { page, errors } = await app.open();
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Chat' }).click();

    await page.getByLabel('KV cache').selectOption('fp16');
    await page.getByRole('button', { name: 'New conversation' }).click();
    const figures = page.getByRole('complementary', { name: 'Conversation figures' });
    await expect.poll(() => figures.textContent(), { timeout: 30_000 }).toContain('Cachefp16');
    await page.getByLabel('Message', { exact: true }).fill('Once upon a time');
    await page.getByRole('button', { name: 'Send' }).click();
    const replies = page.locator('.message-assistant p');
    await expect.poll(() => page.locator('.message-assistant:not(.streaming)').count(), { timeout: 60_000 }).toBe(1);
    expect((await replies.last().textContent())?.length).toBeGreaterThan(20);
    expect(await page.getByTestId('compression').textContent()).toBe('1.00x');

    await page.getByLabel('KV cache').selectOption('rvq:small');
    await page.getByRole('button', { name: 'New conversation' }).click();
    await expect.poll(() => figures.textContent(), { timeout: 30_000 }).toContain('Cachervq:small');
    await page.getByLabel('Message', { exact: true }).fill('Lily had a little cat.');
    await page.getByRole('button', { name: 'Send' }).click();
    // The reply is done when the transcript holds a finished (not streaming) assistant message.
    await expect.poll(() => page.locator('.message-assistant:not(.streaming)').count(), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => page.getByLabel('Residual depth').inputValue()).toBe('4');
    const heldAtFour = await page.getByTestId('kv-held').textContent();
    const ratioAtFour = Number((await page.getByTestId('compression').textContent())!.replace('x', ''));
    expect(ratioAtFour).toBeGreaterThan(4);
    await saveScreenshot(page, 'chat');

    await page.getByLabel('Residual depth').fill('2');
    await expect.poll(() => page.getByTestId('kv-held').textContent()).not.toBe(heldAtFour);
    const ratioAtTwo = Number((await page.getByTestId('compression').textContent())!.replace('x', ''));
    expect(ratioAtTwo).toBeGreaterThan(ratioAtFour);
    expect(errors).toEqual([]);
    await page.close();
  });
});
