// The package entry: exports, and the secret marks of the schema the plugin host serves (below). Importing it creates no resource.
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental/provider";

export * from "./SshKeyPair";
export * from "./SetupDocument";
export * from "./Provisioner";
export * from "./PkaFleet";
// Pure helpers for users who build or check an access spec themselves.
export { validateAccessSpec, accessSpecHash, canonicalAccessSpecJson, AccessSpecError } from "../core/accessSpec";
export type { AccessSpec, AccessUser } from "../core/accessSpec";

/**
 * The properties that hold secrets, by schema token (a component's outputs, or an args type's
 * fields). The components wrap all of them in `pulumi.secret`, so state never holds them in plain;
 * marking them in the schema also makes the SDKs that `pulumi package add` generates treat them as
 * secrets on the caller's side.
 */
const SCHEMA_SECRETS: Readonly<Record<string, readonly string[]>> = {
    "pka-fleet:index:SshKeyPair": ["privateKey", "privateKeyPpk"],
    "pka-fleet:index:PkaFleet": ["privateKeys", "privateKeysPpk"],
    "pka-fleet:index:SshKeyPairGenerate": ["passphrase"],
    "pka-fleet:index:SshKeyPairConnection": ["privateKey"],
};

/** The schema JSON with `"secret": true` on every property of SCHEMA_SECRETS it has; other packages' schemas unchanged. */
function markSchemaSecrets(schemaJson: string): string {
    const schema = JSON.parse(schemaJson);
    let changed = false;
    for (const [token, names] of Object.entries(SCHEMA_SECRETS)) {
        const owner = schema.resources?.[token] ?? schema.types?.[token];
        for (const name of names) {
            const prop = owner?.properties?.[name];
            if (prop && prop.secret !== true) {
                prop.secret = true;
                changed = true;
            }
        }
    }
    return changed ? JSON.stringify(schema) : schemaJson;
}

// Pulumi's component analyzer (3.248 up to at least 3.260) has no way to mark a property secret, and
// the plugin host (cmd/run-plugin) always serves a stock ComponentProvider's getSchema: it takes no
// provider class or schema from the package. It loads that class before it requires this file, so
// wrapping getSchema here is what reaches GetSchema. Symbol.for: the source and the compiled entry
// may both be loaded, and must wrap once.
const WRAPPED = Symbol.for("pka-fleet.schemaSecrets");
const proto = ComponentProvider.prototype as unknown as { getSchema(): Promise<string>; [WRAPPED]?: true };
if (!proto[WRAPPED]) {
    const analyzed = proto.getSchema;
    proto.getSchema = async function (this: ComponentProvider): Promise<string> {
        return markSchemaSecrets(await analyzed.call(this));
    };
    proto[WRAPPED] = true;
}
