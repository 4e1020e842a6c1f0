/**
 * The matcher against EventBridge's documented semantics (EventBridge User Guide: "Content filtering
 * in Amazon EventBridge event patterns", "Comparison operators for use in event patterns",
 * "Arrays in Amazon EventBridge event patterns"). Each case is a documented example or a
 * documented rule, with the event that must match and one that must not.
 */
import * as assert from "assert";
import { EventPatternError, matchesPattern } from "../core/eventPattern";

const yes = (p: object, e: object) =>
    assert.strictEqual(matchesPattern(p, e), true, `${JSON.stringify(p)} should match ${JSON.stringify(e)}`);
const no = (p: object, e: object) =>
    assert.strictEqual(matchesPattern(p, e), false, `${JSON.stringify(p)} should not match ${JSON.stringify(e)}`);

describe("core/eventPattern matchesPattern", () => {
    it("exact values: all keys ANDed, array values ORed, case-sensitive", () => {
        const p = {
            source: ["aws.ec2"],
            "detail-type": ["EC2 Instance State-change Notification"],
            detail: { state: ["running", "pending"] },
        };
        yes(p, {
            source: "aws.ec2",
            "detail-type": "EC2 Instance State-change Notification",
            detail: { state: "pending" },
        });
        no(p, {
            source: "aws.ec2",
            "detail-type": "EC2 Instance State-change Notification",
            detail: { state: "stopped" },
        });
        no(p, {
            source: "AWS.EC2",
            "detail-type": "EC2 Instance State-change Notification",
            detail: { state: "running" },
        });
        no(p, { source: "aws.ec2", detail: { state: "running" } });
    });

    it("prefix, including on hyphenated keys such as detail-type", () => {
        yes({ time: [{ prefix: "2017-10-02" }] }, { time: "2017-10-02T18:43:48Z" });
        no({ time: [{ prefix: "2017-10-02" }] }, { time: "2017-10-03T18:43:48Z" });
        yes(
            { "detail-type": [{ prefix: "EC2 Instance" }] },
            { "detail-type": "EC2 Instance State-change Notification" },
        );
        no({ "detail-type": [{ prefix: "EC2 Command" }] }, { "detail-type": "EC2 Instance State-change Notification" });
        yes({ detail: { "instance-id": [{ prefix: "i-" }] } }, { detail: { "instance-id": "i-12345678" } });
        no({ detail: { "instance-id": [{ prefix: "i-" }] } }, { detail: { "instance-id": "mi-0123456789abcdef0" } });
        no({ time: [{ prefix: "1" }] }, { time: 12 } /* prefix applies to strings only */);
    });

    it("prefix and suffix with equals-ignore-case", () => {
        yes(
            { detail: { service: [{ prefix: { "equals-ignore-case": "EventB" } }] } },
            { detail: { service: "eventbridge" } },
        );
        yes(
            { detail: { FileName: [{ suffix: { "equals-ignore-case": ".png" } }] } },
            { detail: { FileName: "IMG.PNG" } },
        );
        no({ detail: { FileName: [{ suffix: ".png" }] } }, { detail: { FileName: "IMG.PNG" } });
        yes({ detail: { FileName: [{ suffix: ".png" }] } }, { detail: { FileName: "img.png" } });
    });

    it("anything-but: a value, a list, numbers", () => {
        yes({ detail: { state: [{ "anything-but": "initializing" }] } }, { detail: { state: "running" } });
        no({ detail: { state: [{ "anything-but": "initializing" }] } }, { detail: { state: "initializing" } });
        no({ detail: { state: [{ "anything-but": ["stopped", "overloaded"] }] } }, { detail: { state: "overloaded" } });
        yes({ detail: { state: [{ "anything-but": ["stopped", "overloaded"] }] } }, { detail: { state: "running" } });
        no({ detail: { "x-limit": [{ "anything-but": 123 }] } }, { detail: { "x-limit": 123 } });
        yes({ detail: { "x-limit": [{ "anything-but": 123 }] } }, { detail: { "x-limit": 124 } });
    });

    it("anything-but with prefix, suffix, equals-ignore-case and wildcard", () => {
        yes({ detail: { state: [{ "anything-but": { prefix: "init" } }] } }, { detail: { state: "running" } });
        no({ detail: { state: [{ "anything-but": { prefix: "init" } }] } }, { detail: { state: "initializing" } });
        no({ Region: [{ "anything-but": { prefix: "us-" } }] }, { Region: "us-east-1" });
        yes({ Region: [{ "anything-but": { prefix: "us-" } }] }, { Region: "eu-west-1" });
        no({ FileName: [{ "anything-but": { suffix: ".png" } }] }, { FileName: "a.png" });
        no({ state: [{ "anything-but": { "equals-ignore-case": "initializing" } }] }, { state: "INITIALIZING" });
        yes({ state: [{ "anything-but": { "equals-ignore-case": ["a", "b"] } }] }, { state: "c" });
        no({ FilePath: [{ "anything-but": { wildcard: "*/lib/*" } }] }, { FilePath: "/usr/lib/x" });
        yes({ FilePath: [{ "anything-but": { wildcard: "*/lib/*" } }] }, { FilePath: "/usr/bin/x" });
    });

    it("numeric ranges (documented example)", () => {
        const p = {
            detail: {
                "c-count": [{ numeric: [">", 0, "<=", 5] }],
                "d-count": [{ numeric: ["<", 10] }],
                "x-limit": [{ numeric: ["=", 3.018e2] }],
            },
        };
        yes(p, { detail: { "c-count": 5, "d-count": 7, "x-limit": 301.8 } });
        no(p, { detail: { "c-count": 0, "d-count": 7, "x-limit": 301.8 } });
        no(p, { detail: { "c-count": "5", "d-count": 7, "x-limit": 301.8 } });
    });

    it("exists true/false; a missing field matches only exists:false", () => {
        yes({ detail: { state: [{ exists: false }] } }, { detail: { other: 1 } });
        yes({ detail: { state: [{ exists: false }] } }, { source: "x" });
        no({ detail: { state: [{ exists: false }] } }, { detail: { state: "x" } });
        yes({ detail: { state: [{ exists: true }] } }, { detail: { state: "x" } });
        no({ detail: { state: [{ exists: true }] } }, { detail: {} });
        no({ detail: { state: ["x"] } }, { detail: {} });
    });

    it("equals-ignore-case and wildcard", () => {
        yes({ name: [{ "equals-ignore-case": "alice" }] }, { name: "ALiCe" });
        no({ name: [{ "equals-ignore-case": "alice" }] }, { name: "alicea" });
        yes(
            { EventBusArn: [{ wildcard: "arn:aws:events:us-east-1:*:event-bus/*" }] },
            { EventBusArn: "arn:aws:events:us-east-1:123456789012:event-bus/default" },
        );
        no(
            { EventBusArn: [{ wildcard: "arn:aws:events:us-east-1:*:event-bus/*" }] },
            { EventBusArn: "arn:aws:events:us-west-2:123456789012:event-bus/default" },
        );
        yes({ f: [{ wildcard: "a\\*b" }] }, { f: "a*b" });
        no({ f: [{ wildcard: "a\\*b" }] }, { f: "axb" });
        yes({ f: [{ wildcard: "a.b" }] }, { f: "a.b" });
        no({ f: [{ wildcard: "a.b" }] }, { f: "axb" });
    });

    it("arrays in events: matches when any element matches", () => {
        const p = {
            resources: [
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
            ],
        };
        yes(p, {
            resources: [
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
            ],
        });
        no(p, { resources: ["arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"] });
        yes({ resources: [{ prefix: "arn:aws:ec2" }] }, { resources: ["x", "arn:aws:ec2:foo"] });
        no({ resources: [{ exists: true }] }, { resources: [] });
    });

    it("null, empty string, booleans and numbers are exact and typed", () => {
        yes({ responseElements: [null] }, { responseElements: null });
        no({ responseElements: [null] }, { responseElements: "null" });
        yes({ eventVersion: [""] }, { eventVersion: "" });
        no({ eventVersion: [""] }, { eventVersion: "1" });
        yes({ ok: [true] }, { ok: true });
        no({ ok: [true] }, { ok: "true" });
        yes({ n: [300] }, { n: 3e2 });
        no({ n: [300] }, { n: "300" });
    });

    it("cidr (IPv4)", () => {
        yes({ detail: { sourceIPAddress: [{ cidr: "10.0.0.0/24" }] } }, { detail: { sourceIPAddress: "10.0.0.255" } });
        no({ detail: { sourceIPAddress: [{ cidr: "10.0.0.0/24" }] } }, { detail: { sourceIPAddress: "10.0.1.1" } });
    });

    it("$or between sub-patterns", () => {
        const p = {
            source: ["aws.ssm"],
            $or: [{ detail: { status: ["Failed"] } }, { detail: { "instance-id": [{ prefix: "i-" }] } }],
        };
        yes(p, { source: "aws.ssm", detail: { status: "Success", "instance-id": "i-1" } });
        yes(p, { source: "aws.ssm", detail: { status: "Failed" } });
        no(p, { source: "aws.ssm", detail: { status: "Success" } });
    });

    it("rejects invalid patterns like PutRule does", () => {
        assert.throws(() => matchesPattern({ source: "aws.ec2" }, { source: "aws.ec2" }), EventPatternError);
        assert.throws(
            () => matchesPattern({ source: [{ "begins-with": "aws" }] }, { source: "aws.ec2" }),
            EventPatternError,
        );
        assert.throws(() => matchesPattern({ source: [] }, { source: "aws.ec2" }), EventPatternError);
        assert.throws(() => matchesPattern({ n: [{ numeric: [">>", 1] }] }, { n: 2 }), EventPatternError);
        // An invalid matcher after a matching one still fails: the pattern as a whole is invalid.
        assert.throws(
            () => matchesPattern({ source: ["aws.ec2", { nope: 1 }] }, { source: "aws.ec2" }),
            EventPatternError,
        );
    });
});
