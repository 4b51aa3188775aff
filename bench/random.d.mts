// Types of bench/random.mjs, for the tests that use it.
export declare function rand(seed: number): () => number;
