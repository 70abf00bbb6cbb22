// What a GPU costs per month, and what that makes a million tokens cost.
import { HOURS_PER_MONTH } from './quantity.js';

export type MoneySetting =
  | {
      pricing: 'own';
      purchaseUsdPerGpu: number;
      amortisationMonths: number;
      electricityUsdPerKWh: number;
      pue: number;
      utilisation: number;
      boardPowerW: number;
    }
  | { pricing: 'cloud'; cloudUsdPerGpuHour: number; utilisation: number };

export interface MonthlyCost {
  usdPerGpu: number;
  note: string;
}

/**
 * Owned: purchase / amortisation months + board power x utilisation x PUE x 730 h x price per kWh.
 * Cloud: hourly price x 730 h (billed whether busy or not).
 */
export function monthlyCostPerGpu(m: MoneySetting): MonthlyCost {
  if (m.pricing === 'cloud') {
    return { usdPerGpu: m.cloudUsdPerGpuHour * HOURS_PER_MONTH, note: `cloud $${m.cloudUsdPerGpuHour}/GPU-hour x ${HOURS_PER_MONTH} h` };
  }
  const amortised = m.purchaseUsdPerGpu / m.amortisationMonths;
  const kWh = (m.boardPowerW / 1000) * m.utilisation * m.pue * HOURS_PER_MONTH;
  return {
    usdPerGpu: amortised + kWh * m.electricityUsdPerKWh,
    note:
      `$${m.purchaseUsdPerGpu} over ${m.amortisationMonths} months + ${m.boardPowerW} W x ${m.utilisation} utilisation x PUE ${m.pue} ` +
      `at $${m.electricityUsdPerKWh}/kWh; GPU only: server, host power, network and staff not included`,
  };
}
