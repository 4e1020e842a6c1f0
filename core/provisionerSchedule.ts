/**
 * The drift-correction schedule (`driftCorrectionSchedule` of PkaFleet and the Provisioner): an
 * EventBridge schedule expression, checked to run at most every 30 minutes.
 */

/** The shortest interval `driftCorrectionSchedule` may have, in minutes. */
export const DRIFT_MIN_INTERVAL_MINUTES = 30;

/** The values a cron field's part list selects in [lo, hi] (`*`, `n`, `a-b`, `x/step`, comma lists), or undefined. */
function cronFieldValues(field: string, lo: number, hi: number): number[] | undefined {
    const out = new Set<number>();
    const num = (s: string): number | undefined =>
        /^\d{1,2}$/.test(s) && Number(s) >= lo && Number(s) <= hi ? Number(s) : undefined;
    for (const part of field.split(",")) {
        const m = /^(\*|\d{1,2}|\d{1,2}-\d{1,2})(?:\/(\d{1,2}))?$/.exec(part);
        if (!m) return undefined;
        let from: number | undefined;
        let to: number | undefined;
        if (m[1] === "*") [from, to] = [lo, hi];
        else if (m[1].includes("-")) [from, to] = m[1].split("-").map(num);
        else [from, to] = [num(m[1]), m[2] !== undefined ? hi : num(m[1])];
        const step = m[2] === undefined ? 1 : Number(m[2]);
        if (from === undefined || to === undefined || from > to || step < 1) return undefined;
        for (let v = from; v <= to; v += step) out.add(v);
    }
    return [...out].sort((a, b) => a - b);
}

/** Why a `rate(...)` expression is refused, or undefined. */
function rateProblem(rate: RegExpExecArray): string | undefined {
    const value = Number(rate[1]);
    if (!/^[1-9]\d*$/.test(rate[1])) return "a rate's value must be a positive integer";
    if ((value === 1) !== !rate[2].endsWith("s")) {
        return `EventBridge wants the unit ${value === 1 ? "singular for a value of 1" : "plural for a value over 1"} (rate(1 day), rate(2 days))`;
    }
    const minutes = value * (rate[2].startsWith("minute") ? 1 : rate[2].startsWith("hour") ? 60 : 1440);
    if (minutes < DRIFT_MIN_INTERVAL_MINUTES) {
        return `it runs every ${minutes} minute${minutes === 1 ? "" : "s"}, more often than every ${DRIFT_MIN_INTERVAL_MINUTES}`;
    }
    return undefined;
}

/** Why the six fields of a `cron(...)` expression are refused, or undefined. */
function cronProblem(fields: string[]): string | undefined {
    if (fields.length !== 6) {
        return `a cron has 6 fields (minutes hours day-of-month month day-of-week year); this one has ${fields.length}`;
    }
    const [minute, hour, dom, month, dow, year] = fields;
    const ok: [string, string, RegExp][] = [
        ["hours", hour, /^[0-9*,\-/]+$/],
        ["day-of-month", dom, /^([0-9*,\-/LW]+|\?)$/],
        ["month", month, /^[0-9A-Za-z*,\-/]+$/],
        ["day-of-week", dow, /^([0-9A-Za-z*,\-/L#]+|\?)$/],
        ["year", year, /^[0-9*,\-/]+$/],
    ];
    for (const [what, v, re] of ok) if (!re.test(v)) return `its ${what} field ${JSON.stringify(v)} is not valid`;
    if ((dom === "?") === (dow === "?")) return "exactly one of its day-of-month and day-of-week fields must be `?`";
    const minutes = cronFieldValues(minute, 0, 59);
    if (!minutes || minutes.length === 0) {
        return `its minutes field ${JSON.stringify(minute)} is not a list of minutes 0-59 (n, a-b, */step, a,b)`;
    }
    const gaps = minutes.map((m, i) => (i + 1 < minutes.length ? minutes[i + 1] : minutes[0] + 60) - m);
    const gap = Math.min(...gaps);
    if (gap < DRIFT_MIN_INTERVAL_MINUTES) {
        const listed = minutes.length > 12 ? `${minutes.slice(0, 4).join(",")},...` : minutes.join(",");
        return `its minutes ${listed} are ${gap} minute${gap === 1 ? "" : "s"} apart, less than ${DRIFT_MIN_INTERVAL_MINUTES}`;
    }
    if (!cronFieldValues(hour, 0, 23)) return `its hours field ${JSON.stringify(hour)} is not a list of hours 0-23`;
    return undefined;
}

/**
 * Why `expr` is not an EventBridge schedule expression at least 30 minutes apart, or undefined.
 * EventBridge (User Guide, "Schedule expressions for rules"): `rate(value unit)` with a positive
 * integer and minute(s)/hour(s)/day(s), singular exactly when the value is 1; `cron(Minutes Hours
 * Day-of-month Month Day-of-week Year)`, six fields, one of Day-of-month and Day-of-week `?`. A
 * cron's minutes must be at least 30 apart around the hour (a single minute fires once an hour).
 */
export function scheduleProblem(expr: unknown): string | undefined {
    if (typeof expr !== "string") return "it is not a string";
    // EventBridge API Reference, PutRule: ScheduleExpression is at most 256 characters.
    if (expr.length > 256) return `it is ${expr.length} characters; EventBridge takes at most 256`;
    const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expr);
    if (rate) return rateProblem(rate);
    if (/^rate\(/.test(expr)) return "a rate is `rate(<positive integer> minute|minutes|hour|hours|day|days)`";
    const cron = /^cron\((.*)\)$/.exec(expr);
    if (!cron) return "it is neither rate(...) nor cron(...)";
    return cronProblem(cron[1].trim().split(/\s+/));
}

/** The refusal of a `driftCorrectionSchedule` value, naming the input, or undefined when it is valid. */
export function driftScheduleError(expr: unknown, input = "driftCorrectionSchedule"): string | undefined {
    const why = scheduleProblem(expr);
    if (why === undefined) return undefined;
    return `\`${input}\` must be an EventBridge schedule expression, \`rate(...)\` or 6-field \`cron(...)\` (UTC), at least ${DRIFT_MIN_INTERVAL_MINUTES} minutes apart, such as "rate(1 day)", "rate(30 minutes)" or "cron(0 3 * * ? *)": ${why}; got ${JSON.stringify(expr)}`;
}
