// The demo feature: a "report" that costs a few credits (the credits page sells it).
export const REPORT_COST = 5;
