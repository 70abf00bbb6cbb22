// Every figure the estimator returns carries its unit, and a short note where it rests on an
// assumption rather than on arithmetic from the inputs.

export interface Quantity<U extends string = string> {
  value: number;
  unit: U;
  note?: string;
}

export function quantity<U extends string>(value: number, unit: U, note?: string): Quantity<U> {
  return note === undefined ? { value, unit } : { value, unit, note };
}

export const HOURS_PER_MONTH = (365 * 24) / 12; // 730 h: a month is a twelfth of a 365-day year
export const SECONDS_PER_DAY = 86_400;
