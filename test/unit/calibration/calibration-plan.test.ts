// Calibration sized before it runs: work counted from the settings, the too-few-vectors warning with
// its numbers, and defaults chosen from the text's vectors and the machine's rate.
import { describe, expect, it } from 'vitest';
import { calibrationSettingsSchema } from '../../../main/engine/calibration/calibrate.js';
import { defaultBudgetSeconds, estimateCalibration, minVectorsPerEntry, sizeCalibration, vectorsPerEntryWarning } from '../../../main/engine/calibration/calibration-plan.js';
import type { ModelConfig } from '../../../main/model/config.js';
import { smolLm2Geometry } from '../../support/geometries.js';

/** stories260K's KV geometry: 5 layers, 4 KV heads of 8 channels, so one 32-channel group per token. */
const stories: ModelConfig = { ...smolLm2Geometry, hiddenSize: 64, numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8, intermediateSize: 172, vocabSize: 512, maxPositions: 512 };
const defaults = calibrationSettingsSchema.parse({});

describe('calibration estimate', () => {
  it('counts training work per layer, kind and stage against the machine rate', () => {
    const settings = { ...defaults, depth: 2, codebookSize: 64, kmeansIterations: 3, emaPasses: 1 };
    const estimate = estimateCalibration(stories, settings, 10_000, 1e9);
    expect(estimate.tokensSampled).toBe(10_000);
    expect(estimate.vectorsPerLayer).toBe(10_000);
    expect(estimate.vectorsPerEntry).toBeCloseTo(10_000 / 64);
    // k-means: 3 iterations over 32 x 64 = 2048 sampled vectors; EMA and residual passes over all 10,000
    const perStage = (3 * 2048 + 2 * 10_000) * 64 * 32;
    expect(estimate.seconds.train).toBeCloseTo((5 * 2 * 2 * perStage) / 1e9);
    expect(estimate.seconds.capture).toBeGreaterThan(0);
    expect(estimate.warning).toBeNull();
  });

  it('the default settings on the bundled sample warn with the numbers and what to do', () => {
    // the case: 2048-entry codebooks trained on 3,858 vectors
    const estimate = estimateCalibration(stories, defaults, 3858, 1e9);
    expect(estimate.warning).toBe(
      'only 1.9 training vectors per codebook entry (3858 vectors for 2048 entries; entries that generalise need at least 32): give more text, or a codebook size of at most 64',
    );
    expect(vectorsPerEntryWarning(20, 16)).toMatch(/the text is too short for any codebook$/);
    expect(vectorsPerEntryWarning(minVectorsPerEntry * 256, 256)).toBeNull();
  });
});

describe('calibration sizing', () => {
  it('picks the largest codebook the text supports, with at least the minimum vectors per entry', () => {
    const sized = sizeCalibration(stories, defaults, 3858, 1e12);
    expect(sized).toEqual({ codebookSize: 64, maxVectors: 3858, kmeansIterations: 10 });
    expect(estimateCalibration(stories, { ...defaults, ...sized }, 3858, 1e12).warning).toBeNull();
    // plenty of text: the full 2048 entries and the default 65,536-token sample
    expect(sizeCalibration(stories, defaults, 1_000_000, 1e12)).toEqual({ codebookSize: 2048, maxVectors: 65536, kmeansIterations: 10 });
  });

  it('on a slow machine samples fewer tokens, then fewer iterations, then a smaller codebook, to fit the budget', () => {
    const fits = (settings: object, rate: number) => {
      const { seconds, warning } = estimateCalibration(stories, { ...defaults, ...settings }, 1_000_000, rate);
      expect(warning).toBeNull();
      return seconds.capture + seconds.train <= defaultBudgetSeconds;
    };
    // the hour: C 2048 x depth 8 x 65,536 vectors does not fit 10 minutes at this rate
    const rate = 2e9;
    expect(fits({}, rate)).toBe(false);
    const sized = sizeCalibration(stories, defaults, 1_000_000, rate);
    expect(sized.codebookSize).toBeLessThan(2048);
    expect(sized.maxVectors).toBeGreaterThanOrEqual(minVectorsPerEntry * sized.codebookSize);
    expect(fits(sized, rate)).toBe(true);
    // one step bigger would not fit: twice the codebook (at its minimum vectors and 4 iterations)
    expect(fits({ codebookSize: 2 * sized.codebookSize, maxVectors: 2 * minVectorsPerEntry * sized.codebookSize, kmeansIterations: 4 }, rate)).toBe(false);
  });
});
