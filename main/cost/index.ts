// Public API of the deployment cost estimator (main/cost). estimateDeploymentCost is pure; the
// hardware store and model files are the only I/O, kept in their own modules.
export { estimateDeploymentCost, BYTES_PER_PARAMETER } from './estimate.js';
export type { CostEstimate } from './estimate.js';
export type { FormatEstimate, FormatPlanEstimate } from './format-estimate.js';
export type { CostSeries } from './series.js';
export { recommend, formatOutcomes } from './recommend.js';
export type { FormatOutcome, Recommendation, Savings } from './recommend.js';
export { servingPlan } from './serving.js';
export type { ServingOption, ServingPlan } from './serving.js';
export { whatIf } from './what-if.js';
export type { WhatIf, WhatIfRow } from './what-if.js';
export type { Efficiency } from './resolved.js';
export type { Quantity } from './quantity.js';
export { parseCostInput, costInputSchema, CostInputError, DEFAULTS, weightPrecisions } from './input.js';
export type { CostInput, ParsedCostInput, WeightPrecision } from './input.js';
export { kvAccounting, kvFormatLabel, parseKvFormatName, kvFormatSchema, KV_FORMAT_SYNTAX } from './kv-format.js';
export type { KvFormat, KvFormatInput, KvAccounting } from './kv-format.js';
export { modelGeometrySchema, parameterBreakdown, geometryFromModelConfig } from './model-geometry.js';
export type { ModelGeometry, ParameterBreakdown } from './model-geometry.js';
export { modelPresets, findModelPreset } from './model-presets.js';
export type { ModelPreset } from './model-presets.js';
export { builtInHardware, hardwareEntrySchema, hardwareCatalogSchema, parseHardwareEntry, HardwareCatalogError } from './hardware.js';
export type { CatalogEntry, HardwareEntry } from './hardware.js';
export { loadHardwareCatalog, loadUserHardware, saveUserHardware, removeUserHardware, USER_HARDWARE_FILE } from './hardware-store.js';
export { costReport, formatCostTable, formatBytes } from './cost-table.js';
export type { CostReport } from './cost-table.js';
