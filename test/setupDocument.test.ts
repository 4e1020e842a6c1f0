/**
 * SetupDocument under Pulumi mocks that check documents the way SSM's CreateDocument does.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import type * as SetupDocumentModule from "../components/SetupDocument";
import { renderDocumentJson } from "../core/document";

interface Created {
    type: string;
    name: string;
    inputs: Record<string, any>;
    parent?: string;
}

function reject(msg: string): never {
    throw new Error(`AWS would reject: ${msg}`);
}

/** CreateDocument's checks for a JSON Command document. */
export function checkCommandDocument(i: Record<string, any>): void {
    if (i.documentType !== "Command")
        reject(`documentType ${i.documentType}: this package only creates Command documents`);
    if (!["JSON", "YAML", "TEXT", undefined].includes(i.documentFormat)) reject(`documentFormat ${i.documentFormat}`);
    if (typeof i.content !== "string") reject("content missing");
    if (Buffer.byteLength(i.content) > 64 * 1024)
        reject(`content is ${Buffer.byteLength(i.content)} bytes, over 64 KB`);
    if (i.name !== undefined && (!/^[a-zA-Z0-9_.-]{3,128}$/.test(i.name) || /^(aws|amazon|amzn)/i.test(i.name)))
        reject(`InvalidDocument name ${i.name}`);
    let doc: any;
    try {
        doc = JSON.parse(i.content);
    } catch {
        reject("InvalidDocumentContent: not JSON");
    }
    if (!["1.2", "2.0", "2.2"].includes(doc.schemaVersion)) reject(`InvalidDocumentSchemaVersion ${doc.schemaVersion}`);
    const params = doc.parameters ?? {};
    for (const [n, p] of Object.entries<any>(params)) {
        if (!/^[a-zA-Z0-9_]+$/.test(n)) reject(`parameter name ${n}`);
        if (!["String", "StringList", "Boolean", "Integer", "MapList", "StringMap"].includes(p.type))
            reject(`parameter ${n} type ${p.type}`);
        if (p.interpolationType !== undefined && p.interpolationType !== "ENV_VAR")
            reject(`parameter ${n} interpolationType ${p.interpolationType}`);
        if (p.allowedPattern !== undefined) {
            try {
                new RegExp(p.allowedPattern);
            } catch {
                reject(`parameter ${n} allowedPattern does not compile`);
            }
        }
    }
    if (!Array.isArray(doc.mainSteps) || doc.mainSteps.length === 0) reject("InvalidDocumentContent: no mainSteps");
    const names = new Set<string>();
    for (const s of doc.mainSteps) {
        if (!/^[a-zA-Z0-9_.-]{1,100}$/.test(s.name ?? "") || names.has(s.name)) reject(`step name ${s.name}`);
        names.add(s.name);
        if (!s.action) reject("step without action");
        if (s.action === "aws:runShellScript" && !Array.isArray(s.inputs?.runCommand))
            reject("runShellScript without runCommand");
    }
    // Every {{ name }} must be a declared parameter (or an ssm: reference).
    for (const m of i.content.matchAll(/\{\{\s*([A-Za-z0-9_:./-]+)\s*\}\}/g)) {
        if (!m[1].startsWith("ssm:") && !(m[1] in params))
            reject(`InvalidDocumentContent: undeclared parameter ${m[1]}`);
    }
}

class DocumentMocks implements pulumi.runtime.Mocks {
    readonly created: Created[] = [];
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        const i = args.inputs ?? {};
        if (args.type.startsWith("pulumi:providers:") || args.type === "pka-fleet:index:SetupDocument")
            return { id: `${args.name}-id`, state: i };
        if (args.type !== "aws:ssm/document:Document") throw new Error(`unexpected resource ${args.type}`);
        checkCommandDocument(i);
        if (i.tags !== undefined) {
            for (const [k, v] of Object.entries(i.tags)) {
                if (k.toLowerCase().startsWith("aws:") || typeof v !== "string" || v.length > 256) reject(`tag ${k}`);
            }
        }
        const name = i.name ?? `${args.name}-a1b2c3d`;
        this.created.push({ type: args.type, name: args.name, inputs: i });
        return {
            id: name,
            state: {
                ...i,
                name,
                arn: `arn:aws:ssm:eu-west-1:123456789012:document/${name}`,
                latestVersion: "1",
                defaultVersion: "1",
                hashType: "Sha256",
            },
        };
    }
    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        throw new Error(`unexpected call ${args.token}`);
    }
}

function value<T>(o: pulumi.Output<T>): Promise<T> {
    return (o as any).promise();
}

describe("SetupDocument component (mocks)", () => {
    const mocks = new DocumentMocks();
    let mod: typeof SetupDocumentModule;
    let n = 0;
    const uniq = (b: string) => `${b}-${++n}`;

    before(async () => {
        await pulumi.runtime.setMocks(mocks, "pka", "test", false);
        mod = await import("../components/SetupDocument");
    });

    it("deploys exactly `pka document` as a JSON Command document, and exposes name, ARN, version and content hash", async () => {
        const name = uniq("setup");
        const d = new mod.SetupDocument(name, {});
        const [docName, arn, version, sha] = await Promise.all([
            value(d.documentName),
            value(d.documentArn),
            value(d.documentVersion),
            value(d.contentSha256),
        ]);
        const c = mocks.created.find((x) => x.name === `${name}-document`);
        assert.ok(c);
        assert.equal(c.inputs.content, renderDocumentJson());
        assert.equal(c.inputs.documentType, "Command");
        assert.equal(c.inputs.documentFormat, "JSON");
        assert.equal(docName, `${name}-document-a1b2c3d`, "auto-named when no documentName is given");
        assert.equal(arn, `arn:aws:ssm:eu-west-1:123456789012:document/${docName}`);
        assert.equal(version, "1");
        assert.equal(sha, createHash("sha256").update(renderDocumentJson()).digest("hex"));
    });

    it("uses the given documentName and tags", async () => {
        const name = uniq("named");
        const d = new mod.SetupDocument(name, { documentName: "pka-web-setup", tags: { team: "platform" } });
        assert.equal(await value(d.documentName), "pka-web-setup");
        const c = mocks.created.find((x) => x.name === `${name}-document`);
        assert.deepEqual(c?.inputs.tags, { team: "platform" });
    });

    for (const bad of ["aws-setup", "AmazonSetup", "ab", "a b", "x".repeat(129), "setup/../x"]) {
        it(`refuses documentName ${JSON.stringify(bad.slice(0, 20))} naming the input`, () => {
            assert.throws(
                () => new mod.SetupDocument(uniq("bad"), { documentName: bad }),
                (e: Error) => /`documentName`/.test(e.message),
            );
        });
    }

    it("creates its document as a child of the component (type pka-fleet:index:SetupDocument)", async () => {
        const name = uniq("tree");
        const types: string[] = [];
        const spy: pulumi.ResourceTransformation = (a) => {
            types.push(`${a.type}|${a.opts.parent ? (a.opts.parent as pulumi.Resource).constructor.name : ""}`);
            return undefined;
        };
        new mod.SetupDocument(name, {}, { transformations: [spy] });
        assert.deepEqual(types, ["pka-fleet:index:SetupDocument|", "aws:ssm/document:Document|SetupDocument"]);
    });

    it("has mocks that reject what SSM rejects (so passing means something)", () => {
        const doc = JSON.parse(renderDocumentJson());
        const ok = { documentType: "Command", documentFormat: "JSON", content: renderDocumentJson() };
        assert.doesNotThrow(() => checkCommandDocument(ok));
        const big = { ...doc, description: "x".repeat(64 * 1024) };
        assert.throws(() => checkCommandDocument({ ...ok, content: JSON.stringify(big) }), /over 64 KB/);
        assert.throws(
            () => checkCommandDocument({ ...ok, content: JSON.stringify({ ...doc, schemaVersion: "3.0" }) }),
            /SchemaVersion/,
        );
        assert.throws(() => checkCommandDocument({ ...ok, content: "{" }), /not JSON/);
        const p = { ...doc.parameters.AccessSpec, interpolationType: "SHELL" };
        assert.throws(
            () => checkCommandDocument({ ...ok, content: JSON.stringify({ ...doc, parameters: { AccessSpec: p } }) }),
            /interpolationType/,
        );
        const step = { ...doc.mainSteps[0], inputs: { runCommand: ["echo {{ Nope }}"] } };
        assert.throws(
            () => checkCommandDocument({ ...ok, content: JSON.stringify({ ...doc, mainSteps: [step] }) }),
            /undeclared/,
        );
        assert.throws(() => checkCommandDocument({ ...ok, name: "aws-x" }), /name/);
    });
});
