// Types of bench/inProcess.mjs, for bench/rescue.ts and bench/shards.ts.
export declare const arg: (name: string, fallback: string) => string;
export declare function dataArg(): string;
export declare const LOAD_SCRIPTS: Record<'wakeups' | 'scan' | 'busy', string>;
export declare function loadsArg(fallback: string): Array<'wakeups' | 'scan' | 'busy'>;
