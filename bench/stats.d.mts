// Types of bench/stats.mjs, for the tests that check it (test/bench/stats.test.ts).
export declare const median: (xs: readonly number[]) => number;
export declare const quantile: (xs: readonly number[], q: number) => number;
export declare const pairedRatio: (under: readonly number[], over: readonly number[]) => number;
export declare function bootstrapMedian90(xs: readonly number[], draws?: number): [number, number];
export declare function bracketedRatios(around: readonly number[], between: readonly number[]): number[];
