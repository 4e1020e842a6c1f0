/**
 * Lambda runtimes AWS has deprecated: one list for the policy pack's `lambda-runtime-supported`
 * rule and the Provisioner's refusal of a deprecated `runtime` (one rule, one place). Pure: no
 * @pulumi imports.
 */

/**
 * AWS's deprecation dates (Lambda Developer Guide, "Lambda runtimes", supported and deprecated
 * runtime tables) with the runtime to move to. A date in the future makes a runtime refused on
 * its own once the day comes.
 */
export const RUNTIME_CALENDAR: Readonly<Record<string, { deprecated: string; successor: string }>> = {
    "nodejs10.x": { deprecated: "2021-07-30", successor: "nodejs22.x" },
    "nodejs12.x": { deprecated: "2023-03-31", successor: "nodejs22.x" },
    "nodejs14.x": { deprecated: "2023-12-04", successor: "nodejs22.x" },
    "nodejs16.x": { deprecated: "2024-06-12", successor: "nodejs22.x" },
    "nodejs18.x": { deprecated: "2025-09-01", successor: "nodejs22.x" },
    "nodejs20.x": { deprecated: "2026-04-30", successor: "nodejs22.x" },
    "nodejs22.x": { deprecated: "2027-04-30", successor: "nodejs24.x" },
    "nodejs24.x": { deprecated: "2028-04-30", successor: "a newer Node.js runtime" },
    "python2.7": { deprecated: "2021-07-15", successor: "python3.13" },
    "python3.6": { deprecated: "2022-07-18", successor: "python3.13" },
    "python3.7": { deprecated: "2023-12-04", successor: "python3.13" },
    "python3.8": { deprecated: "2024-10-14", successor: "python3.13" },
    "python3.9": { deprecated: "2025-12-15", successor: "python3.13" },
    "python3.10": { deprecated: "2026-06-30", successor: "python3.13" },
    "ruby2.5": { deprecated: "2021-07-30", successor: "ruby3.4" },
    "ruby2.7": { deprecated: "2023-12-07", successor: "ruby3.4" },
    "ruby3.2": { deprecated: "2026-03-31", successor: "ruby3.4" },
    java8: { deprecated: "2024-01-08", successor: "java21" },
    "java8.al2": { deprecated: "2026-06-30", successor: "java21" },
    java11: { deprecated: "2026-06-30", successor: "java21" },
    "go1.x": { deprecated: "2024-01-08", successor: "provided.al2023" },
    provided: { deprecated: "2024-01-08", successor: "provided.al2023" },
    "provided.al2": { deprecated: "2026-06-30", successor: "provided.al2023" },
    "dotnetcore2.1": { deprecated: "2022-01-05", successor: "dotnet10" },
    "dotnetcore3.1": { deprecated: "2023-04-03", successor: "dotnet10" },
    "dotnet5.0": { deprecated: "2022-05-10", successor: "dotnet10" },
    dotnet6: { deprecated: "2024-12-20", successor: "dotnet10" },
    dotnet7: { deprecated: "2024-05-14", successor: "dotnet10" },
    dotnet8: { deprecated: "2026-11-10", successor: "dotnet10" },
};

/** Runtimes AWS had deprecated by the pack's release (2026-11), whatever the date; the calendar adds later ones as their dates pass. */
export const DEFAULT_DEPRECATED_RUNTIMES: readonly string[] = [
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "java8",
    "java8.al2",
    "java11",
    "go1.x",
    "provided",
    "provided.al2",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet5.0",
    "dotnet6",
    "dotnet7",
    "dotnet8",
];

/** The runtime to move to from `runtime`. */
export function runtimeSuccessor(runtime: string): string {
    const known = RUNTIME_CALENDAR[runtime]?.successor;
    if (known) return known;
    if (runtime.startsWith("nodejs")) return "nodejs22.x";
    if (runtime.startsWith("python")) return "python3.13";
    if (runtime.startsWith("dotnet")) return "dotnet10";
    return "a supported runtime";
}

export interface RuntimeDeprecationOptions {
    /** Judge as of this day. Default: now. */
    now?: Date;
    /** Runtimes refused whatever the date. Default `DEFAULT_DEPRECATED_RUNTIMES`. */
    deprecatedRuntimes?: readonly string[];
    /** Also refuse a runtime whose calendar date has passed. Default `true`. */
    useCalendar?: boolean;
}

/** Whether `runtime` is deprecated, with AWS's date when known and the runtime to move to; undefined when it is supported. */
export function runtimeDeprecation(
    runtime: string,
    o: RuntimeDeprecationOptions = {},
): { since?: string; successor: string } | undefined {
    const now = o.now ?? new Date();
    const entry = RUNTIME_CALENDAR[runtime];
    const byCalendar =
        (o.useCalendar ?? true) && entry !== undefined && new Date(`${entry.deprecated}T00:00:00Z`) <= now;
    if (!(o.deprecatedRuntimes ?? DEFAULT_DEPRECATED_RUNTIMES).includes(runtime) && !byCalendar) return undefined;
    return { since: entry?.deprecated, successor: runtimeSuccessor(runtime) };
}

/**
 * The Node.js runtime a new Provisioner gets by default: the newest one in the calendar that AWS
 * has not deprecated on `now`. A fixed default would turn into a refusal on its deprecation day;
 * this one moves forward with the calendar, and only fails once every known runtime is past its
 * date (then pka-fleet itself needs an update, and the message says so).
 */
export function defaultNodeRuntime(now: Date = new Date()): string {
    const version = (r: string) => Number(/^nodejs(\d+)\.x$/.exec(r)?.[1] ?? NaN);
    const supported = Object.keys(RUNTIME_CALENDAR)
        .filter((r) => !Number.isNaN(version(r)) && runtimeDeprecation(r, { now }) === undefined)
        .sort((a, b) => version(b) - version(a));
    if (supported.length === 0) {
        throw new Error(
            "every Node.js Lambda runtime pka-fleet knows is deprecated; set `runtime` explicitly or upgrade pka-fleet",
        );
    }
    return supported[0];
}
