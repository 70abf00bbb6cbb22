// Chat's finer points in headless Chromium with the real engine on stories260K: live figures while a
// reply streams, a stopped reply marked, each reply's figures, copy and regenerate, the context fill
// and the drop-oldest-turns offer, conversations told apart, and a reload that comes back to the same
// view and conversation without a "No models yet" flash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { importStories260K, startHeadlessApp, type HeadlessApp } from '../support/headless-app.js';
import { fixtures, haveFixtures } from '../support/shared.js';

async function setSampling(page: Page, values: Record<string, string>): Promise<void> {
  const panel = page.locator('details.sampling');
  if ((await panel.getAttribute('open')) === null) await panel.locator('summary').click();
  for (const [label, value] of Object.entries(values)) await panel.getByLabel(label, { exact: true }).fill(value);
}

const finishedReplies = (page: Page) => page.locator('.message-assistant:not(.streaming)');

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('Chat extras', () => {
  let app: HeadlessApp;

  beforeAll(async () => {
    app = await startHeadlessApp();
    await importStories260K(app);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('streams live figures, marks stopped and cut replies, copies, regenerates, fills the context, and survives a reload', async () => {
    const { page, errors } = await app.open();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.server.url });
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Chat' }).click();
    await page.getByLabel('KV cache').selectOption('fp16');
    const used = async () => Number(/^(\d+) of 512/.exec((await page.getByTestId('context-fill').textContent())!)![1]);

    // a long reply: its count and speed are live while it streams; Stop marks it stopped. The gate holds
    // the reply at its first token until the page's cancel is in the backend's queue, so the Stop lands
    // mid-reply however fast the model decodes (each page call lets the reply one token on)
    await page.getByRole('button', { name: 'New conversation' }).click();
    await expect.poll(() => page.getByTestId('context-fill').textContent(), { timeout: 30_000 }).toMatch(/^1 of 512 tokens \(0%\)$/);
    await setSampling(page, { 'Max tokens': '480', Temperature: '0' });
    await page.getByLabel('Message', { exact: true }).fill('Once upon a time');
    const heldFrom = app.served.calls.length;
    app.gate.hold();
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.getByTestId('live-figures').textContent(), { timeout: 30_000, interval: 10 }).toMatch(/^\d+ tokens · [\d.]+ tokens\/s$/);
    const called = app.served.calls.length;
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => app.served.calls.slice(called).includes('chat.cancel'), { interval: 10 }).toBe(true);
    const passes = app.served.calls.length - heldFrom;
    app.gate.open();
    await expect.poll(() => finishedReplies(page).count(), { timeout: 60_000 }).toBe(1);
    const marks = await finishedReplies(page).first().locator('.reply-mark').allTextContents();
    expect(marks).toContain('stopped');
    const first = finishedReplies(page).first();
    const figures = await first.getByTestId('reply-figures').textContent();
    expect(figures).toMatch(/^\d+ tokens · [\d.]+ tokens\/s$/);
    // stopped at the next token: one token, then one more per page call while held
    expect(Number(/^(\d+)/.exec(figures!)![1])).toBeLessThanOrEqual(1 + passes);
    const afterFirst = await used();

    // a short greedy reply is cut at the maximum; regenerating it at temperature 0 gives the same text in its place
    await setSampling(page, { 'Max tokens': '16' });
    await page.getByLabel('Message', { exact: true }).fill('Once upon a time '.repeat(10));
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => finishedReplies(page).count(), { timeout: 60_000 }).toBe(2);
    const second = finishedReplies(page).last();
    expect(await second.getByTestId('reply-figures').textContent()).toMatch(/^16 tokens · /);
    expect(await second.locator('.reply-mark').allTextContents()).toContain('cut: reached the maximum tokens');
    const text = await second.locator('p').textContent();
    await second.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.evaluate<string>('navigator.clipboard.readText()')).toBe(text);
    await second.getByRole('button', { name: 'Regenerate' }).click();
    await expect.poll(() => page.locator('.message-assistant.streaming').count(), { timeout: 60_000 }).toBe(0);
    await expect.poll(() => finishedReplies(page).count()).toBe(2);
    expect(await finishedReplies(page).last().locator('p').textContent()).toBe(text);
    expect(await page.locator('.message-user').count()).toBe(2);
    const afterSecond = await used();

    // a reply that would not fit brings the drop-oldest-turns offer
    expect(await page.locator('.context-full').count()).toBe(0);
    await setSampling(page, { 'Max tokens': String(512 - afterSecond + 1) });
    await expect.poll(() => page.locator('.context-full').textContent()).toContain('would be cut');
    await setSampling(page, { 'Max tokens': '16' });
    await expect.poll(() => page.locator('.context-full').count()).toBe(0);

    // a message that fits alone but not after the history is refused, then sent dropping the oldest turns
    const perRepeat = (afterSecond - afterFirst - 16) / 10;
    await page.getByLabel('Message', { exact: true }).fill('Once upon a time '.repeat(Math.ceil((512 - afterSecond + 10) / perRepeat)));
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.context-full').textContent(), { timeout: 30_000 }).toContain('does not fit');
    expect(await page.getByLabel('Message', { exact: true }).inputValue()).toMatch(/^(Once upon a time )+$/);
    await page.getByLabel(/Drop the oldest turns/).check();
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => finishedReplies(page).count(), { timeout: 120_000 }).toBe(3);
    const third = finishedReplies(page).last();
    expect((await third.locator('.reply-mark').allTextContents()).some((m) => /oldest turns? dropped to make room/.test(m))).toBe(true);
    expect(await used()).toBeLessThanOrEqual(512);

    // the list tells conversations apart: model, cache, time, replies
    const entry = page.getByRole('navigation', { name: 'Conversations' }).locator('button.link[aria-current="true"]');
    expect(await entry.textContent()).toMatch(/^stories260K · fp16.* · 3 replies · Once upon a time/);

    // a reload comes back to the same view and conversation, and never says there are no models
    // (page scripts as strings: the test's TypeScript has no DOM types)
    await page.addInitScript(`
      window.sawNoModels = false;
      new MutationObserver(() => {
        if (document.body && document.body.textContent.includes('No models yet')) window.sawNoModels = true;
      }).observe(document, { childList: true, subtree: true, characterData: true });
    `);
    const messagesBefore = await page.locator('.transcript .message').allTextContents();
    await page.reload();
    await expect.poll(() => page.locator('.transcript .message').allTextContents(), { timeout: 30_000 }).toEqual(messagesBefore);
    expect(await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Chat' }).getAttribute('aria-current')).toBe('page');
    expect(await page.evaluate<boolean>('window.sawNoModels')).toBe(false);
    // the one refused send (400, context_length_exceeded) is the only failed request
    expect(errors).toEqual(['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await page.close();
  });
});
