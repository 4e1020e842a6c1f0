/**
 * The Provisioner's event patterns against AWS's documented sample events (test/fixtures/events,
 * sources in its README), and the Lambda's record parser.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { matchesPattern } from "../core/eventPattern";
import {
    associationPattern,
    commandResultPattern,
    EC2_RUNNING_PATTERN,
    parseQueuedEvent,
    PUSH_PATTERN,
    pushEvent,
    QueuedEventError,
    sameDocument,
    SSM_ASSOCIATION_PATTERN,
} from "../core/events";

const dir = path.join(__dirname, "fixtures", "events");
const fixture = (name: string): Record<string, any> => JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
const DOC = "pka-fleet-setup";
/** The documented invocation sample, as it arrives for our document. */
function ourResult(status = "Success"): Record<string, any> {
    const e = fixture("ssm-command-invocation-status-change.json");
    return { ...e, detail: { ...e.detail, "document-name": DOC, status } };
}

describe("core/events patterns vs AWS sample events", () => {
    const patterns = {
        running: EC2_RUNNING_PATTERN,
        association: SSM_ASSOCIATION_PATTERN,
        result: commandResultPattern(DOC),
        push: PUSH_PATTERN,
    };
    const which = (ev: object) =>
        Object.entries(patterns)
            .filter(([, p]) => matchesPattern(p, ev))
            .map(([k]) => k);

    it("every fixture is the documented shape (source, detail-type, detail)", () => {
        for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".json"))) {
            const e = fixture(f);
            assert.ok(
                typeof e.source === "string" && typeof e["detail-type"] === "string" && typeof e.detail === "object",
                f,
            );
        }
    });

    it("EC2 running matches only the running rule; pending and stopped match nothing", () => {
        assert.deepStrictEqual(which(fixture("ec2-state-change-running.json")), ["running"]);
        assert.deepStrictEqual(which(fixture("ec2-state-change-pending.json")), []);
        assert.deepStrictEqual(which(fixture("ec2-state-change-stopped.json")), []);
    });

    it("the instance association state change matches the association rule; the association-level event does not", () => {
        assert.deepStrictEqual(which(fixture("ssm-instance-association-state-change.json")), ["association"]);
        assert.deepStrictEqual(which(fixture("ssm-association-state-change.json")), []);
    });

    it("command invocation results match only for our document and terminal statuses", () => {
        assert.deepStrictEqual(
            which(fixture("ssm-command-invocation-status-change.json")),
            [],
            "AWS-RunPowerShellScript is not ours",
        );
        for (const s of ["Success", "Failed", "TimedOut", "Cancelled"])
            assert.deepStrictEqual(which(ourResult(s)), ["result"], s);
        for (const s of ["InProgress", "Pending", "Delayed"]) assert.deepStrictEqual(which(ourResult(s)), [], s);
        assert.deepStrictEqual(
            which(fixture("ssm-command-status-change.json")),
            [],
            "command-level status is not per instance",
        );
    });

    it("other events of the same sources match nothing; our push matches only the push rule", () => {
        assert.deepStrictEqual(which(fixture("ssm-parameter-store-change.json")), []);
        assert.deepStrictEqual(which(fixture("pka-fleet-push.json")), ["push"]);
        assert.deepStrictEqual(which(pushEvent({ reason: "rotation" })), ["push"]);
        assert.deepStrictEqual(which({ ...fixture("pka-fleet-push.json"), source: "someone-else" }), []);
    });

    it("the deployed association rule ignores runs of our own document (drift correction)", () => {
        const e = fixture("ssm-instance-association-state-change.json");
        assert.ok(matchesPattern(associationPattern(DOC), e));
        assert.ok(!matchesPattern(associationPattern(DOC), { ...e, detail: { ...e.detail, "document-name": DOC } }));
        assert.ok(
            !matchesPattern(associationPattern(DOC), {
                ...e,
                detail: { ...e.detail, "instance-id": "mi-0123456789abcdef0" },
            }),
        );
    });

    it("a hybrid managed node (mi-) does not trigger the association rule", () => {
        const e = fixture("ssm-instance-association-state-change.json");
        assert.deepStrictEqual(which({ ...e, detail: { ...e.detail, "instance-id": "mi-0123456789abcdef0" } }), []);
    });
});

describe("core/events parseQueuedEvent", () => {
    const body = (o: object) => JSON.stringify(o);
    const reason = (b: string) => {
        try {
            parseQueuedEvent(b);
        } catch (e) {
            assert.ok(e instanceof QueuedEventError, String(e));
            return (e as QueuedEventError).reason;
        }
        assert.fail("expected a QueuedEventError");
    };

    it("parses each kind from the documented samples", () => {
        assert.deepStrictEqual(parseQueuedEvent(body(fixture("ec2-state-change-running.json"))), {
            kind: "instance-running",
            instanceId: "i-1234567890abcdef0",
            eventId: "7bf73129-1428-4cd3-a780-95db273d1602",
        });
        const a = parseQueuedEvent(body(fixture("ssm-instance-association-state-change.json")));
        assert.strictEqual(a.kind, "association");
        assert.strictEqual(a.kind === "association" && a.instanceId, "i-12345678");
        const r = parseQueuedEvent(body(ourResult("Failed")));
        assert.deepStrictEqual(r.kind === "command-result" && [r.instanceId, r.commandId, r.status, r.documentName], [
            "i-9bb89e2b",
            "e8d3c0e4-71f7-4491-898f-c9b35bee5f3b",
            "Failed",
            DOC,
        ]);
        const p = parseQueuedEvent(body(fixture("pka-fleet-push.json")));
        assert.deepStrictEqual(p.kind === "push" && [p.specHash?.length, p.instanceIds, p.reason], [
            64,
            undefined,
            "access-spec-changed",
        ]);
        const q = parseQueuedEvent(body(pushEvent({ instanceIds: ["i-12345678"] })));
        assert.deepStrictEqual(q.kind === "push" && q.instanceIds, ["i-12345678"]);
    });

    it("types the malformed records", () => {
        assert.strictEqual(reason("not json {"), "not-json");
        assert.strictEqual(reason("[1,2]"), "not-an-event");
        assert.strictEqual(
            reason(body({ source: "aws.ec2", "detail-type": "EC2 Instance State-change Notification" })),
            "not-an-event",
        );
        assert.strictEqual(reason(body(fixture("ssm-parameter-store-change.json"))), "unknown-event");
        assert.strictEqual(reason(body(fixture("ec2-state-change-stopped.json"))), "unwanted-state");
        const e = fixture("ec2-state-change-running.json");
        assert.strictEqual(reason(body({ ...e, detail: { state: "running" } })), "missing-instance-id");
        assert.strictEqual(
            reason(body({ ...e, detail: { state: "running", "instance-id": "i-$(reboot)" } })),
            "invalid-field",
        );
        const r = ourResult();
        assert.strictEqual(reason(body({ ...r, detail: { ...r.detail, "command-id": "x" } })), "invalid-field");
        assert.strictEqual(reason(body(pushEvent({ instanceIds: ["i-1; rm"] }))), "invalid-field");
        assert.strictEqual(reason(body(pushEvent({ specHash: "ZZ" }))), "invalid-field");
    });

    it("compares document names and ARNs by name", () => {
        assert.ok(sameDocument("arn:aws:ssm:us-east-1:123456789012:document/pka-fleet-setup", DOC));
        assert.ok(!sameDocument("AWS-RunShellScript", DOC));
    });
});
