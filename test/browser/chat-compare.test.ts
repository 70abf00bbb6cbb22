// The Chat view's cache comparison in headless Chromium with the real engine on stories260K: an RVQ
// conversation (small calibration) gets an fp16 twin, and a greedy reply of each appears side by
// side with its own figures; turning the comparison off keeps both conversations.
import type { Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatSession } from '../../main/api/types.js';
import { saveScreenshot } from '../support/browser.js';
import { startCalibratedStoriesApp, type HeadlessApp } from '../support/headless-app.js';
import { fixtures, haveFixtures } from '../support/shared.js';

/** Tokens the last reply prefilled, from a column's "Prefill" figure ("… tokens/s (N tokens)"). */
async function prefillTokens(column: Locator): Promise<number> {
  const text = (await column.getByTestId('prefill').textContent()) ?? '';
  return Number(/\((\d+) tokens\)/.exec(text)?.[1]);
}

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('Chat view: cache comparison', () => {
  let app: HeadlessApp;

  beforeAll(async () => {
    app = await startCalibratedStoriesApp();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('shows a greedy reply with rvq:small and with fp16 side by side, each with its figures', async () => {
    const { page, errors } = await app.open();
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Chat' }).click();
    await page.getByLabel('KV cache').selectOption('rvq:small');
    await page.getByRole('button', { name: 'New conversation' }).click();
    const figures = page.getByRole('complementary', { name: 'Conversation figures' });
    await expect.poll(() => figures.textContent(), { timeout: 30_000 }).toContain('Cachervq:small');
    await page.getByText('Sampling', { exact: true }).click();
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Max tokens').fill('40');
    await page.getByLabel('Message', { exact: true }).fill('Once upon a time');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.message-assistant:not(.streaming)').count(), { timeout: 60_000 }).toBe(1);

    // rvq conversations are compared with fp16 unless the operator picks another format
    expect(await page.getByLabel('Compare with').inputValue()).toBe('fp16');
    await page.getByRole('button', { name: 'Compare' }).click();
    const rvq = page.getByRole('region', { name: 'rvq:small conversation' });
    const fp16 = page.getByRole('region', { name: 'fp16 conversation' });
    await expect.poll(() => fp16.locator('.message-assistant').count(), { timeout: 30_000 }).toBe(1);
    expect(await fp16.locator('.message p').allTextContents()).toEqual(await rvq.locator('.message p').allTextContents());
    expect(await fp16.getByTestId('kv-held').textContent()).toBe('0 B'); // filled by its first reply

    await page.getByLabel('Message', { exact: true }).fill('Lily had a little cat.');
    await page.getByRole('button', { name: 'Send' }).click();
    for (const column of [rvq, fp16]) await expect.poll(() => column.locator('.message-assistant:not(.streaming)').count(), { timeout: 60_000 }).toBe(2);
    await expect.poll(() => page.getByRole('button', { name: 'Send' }).isEnabled()).toBe(true);
    const [rvqMessages, fp16Messages] = [await rvq.locator('.message p').allTextContents(), await fp16.locator('.message p').allTextContents()];
    expect(fp16Messages.slice(0, 3)).toEqual(rvqMessages.slice(0, 3));
    expect(fp16Messages[2]).toBe('Lily had a little cat.');
    for (const reply of [rvqMessages[3], fp16Messages[3]]) expect(reply.length).toBeGreaterThan(20);
    expect(await fp16.getByTestId('compression').textContent()).toBe('1.00x');
    expect(Number((await rvq.getByTestId('compression').textContent())!.replace('x', ''))).toBeGreaterThan(4);
    // the twin's first reply prefilled the whole transcript, the original only the new message and one token
    expect(await prefillTokens(fp16)).toBeGreaterThan((await prefillTokens(rvq)) + 20);
    expect(await rvq.getByTestId('decode').textContent()).toMatch(/tokens\/s/);
    expect(await fp16.getByTestId('decode').textContent()).toMatch(/tokens\/s/);
    await saveScreenshot(page, 'chat-compare');

    // the backend saved both exchanges: the same messages, and (greedy) each reply as shown
    const saved = (await app.backend.call('chat.list', [])) as ChatSession[];
    expect(saved.map((s) => s.cache).sort()).toEqual(['fp16', 'rvq:small']);
    expect(saved.find((s) => s.cache === 'fp16')?.messages.map((m) => m.content)).toEqual(fp16Messages);
    expect(saved.find((s) => s.cache === 'rvq:small')?.messages.map((m) => m.content)).toEqual(rvqMessages);

    await page.getByRole('button', { name: 'Stop comparing' }).click();
    await expect.poll(() => fp16.count()).toBe(0);
    await expect.poll(() => figures.textContent()).toContain('Cachervq:small');
    expect(await page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /stories260K · / }).allTextContents()).toHaveLength(2);
    expect(errors).toEqual([]);
    await page.close();
  });
});
