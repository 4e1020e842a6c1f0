/**
 * PkaFleet under Pulumi mocks: resources per fleet by user count, and the wall time of a mocks run
 * (construct + every output resolved) for fleets of 1, 10 and 200 users. Users bring ed25519 keys;
 * every tenth user gets a key generated in state (service account, no passphrase).
 */
import * as pulumi from "@pulumi/pulumi";
import { generateKey } from "../core/keygen";

type Row = {
    users: number;
    resources: number;
    components: number;
    accessParameters: number;
    generatedKeys: number;
    mocksRunMs: number;
};

class CountingMocks implements pulumi.runtime.Mocks {
    byType: Record<string, number> = {};
    components = 0;
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
        if (args.type.startsWith("pka-fleet:") || args.type === "pulumi:pulumi:Stack") {
            this.components++;
            return { id: undefined, state: {} };
        }
        this.byType[args.type] = (this.byType[args.type] ?? 0) + 1;
        if (args.type.startsWith("pulumi-nodejs:dynamic")) {
            const { createKey } = require("../components/keyPairProvider");
            const plain = Object.fromEntries(Object.entries(args.inputs).filter(([k]) => k !== "__provider"));
            return createKey(plain).then((r: any) => ({ id: r.id, state: { ...args.inputs, ...r.outs } })) as any;
        }
        const i = args.inputs;
        return {
            id: `${args.name}-id`,
            state: {
                ...i,
                arn: `arn:aws:mock:eu-west-1:123456789012:${args.name}`,
                name: i.name ?? args.name,
                url: `https://sqs.mock/${args.name}`,
                keyName: i.keyName ?? args.name,
            },
        };
    }
    call(): Record<string, any> {
        return { accountId: "123456789012", partition: "aws", region: "eu-west-1", name: "eu-west-1" };
    }
}

function resolve<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((r) =>
        o.apply((v) => {
            r(v);
            return v;
        }),
    );
}

async function oneFleet(users: number, pool: string[]): Promise<Row> {
    const mocks = new CountingMocks();
    await pulumi.runtime.setMocks(mocks, "pka-fleet", `bench-${users}`, false);
    const { PkaFleet } = await import("../components/PkaFleet");
    const t0 = Date.now();
    const fleet = new PkaFleet(`f${users}`, {
        fleetName: `bench-${users}`,
        users: Array.from({ length: users }, (_, i) =>
            i % 10 === 9
                ? {
                      name: `svc${i}`,
                      sudo: "nopasswd" as const,
                      service: true,
                      generateKey: { keyType: "ed25519" as const },
                  }
                : {
                      name: `user${i}`,
                      sudo: (i % 2 ? "none" : "nopasswd") as "none" | "nopasswd",
                      publicKeys: [pool[i % pool.length]],
                  },
        ),
    });
    await Promise.all([
        resolve(fleet.accessSpecHash),
        resolve(fleet.queueUrl),
        resolve(fleet.fingerprints),
        resolve(fleet.privateKeys),
    ]);
    let last = -1;
    let total = 0;
    while (total !== last) {
        last = total;
        await new Promise((r) => setTimeout(r, 200));
        total = Object.values(mocks.byType).reduce((a, b) => a + b, 0);
    }
    const ms = Date.now() - t0 - 200; // minus the final quiet period
    return {
        users,
        resources: total,
        components: mocks.components,
        accessParameters: mocks.byType["aws:ssm/parameter:Parameter"] ?? 0,
        generatedKeys: Object.entries(mocks.byType)
            .filter(([t]) => t.startsWith("pulumi-nodejs:dynamic"))
            .reduce((a, [, n]) => a + n, 0),
        mocksRunMs: ms,
    };
}

export async function benchFleet(): Promise<Row[]> {
    const pool = Array.from(
        { length: 200 },
        (_, i) => generateKey({ type: "ed25519", comment: `user${i}@bench` }).publicKey,
    );
    const rows: Row[] = [];
    for (const n of [1, 10, 200]) rows.push(await oneFleet(n, pool));
    return rows;
}

if (require.main === module) {
    benchFleet().then((rows) => {
        console.table(rows);
        process.exit(0);
    });
}
