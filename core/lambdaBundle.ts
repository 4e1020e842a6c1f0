/**
 * Where the bundled provisioner Lambda is. Plain Node (no Pulumi): the Provisioner component, the
 * local fleet and the bench all find the bundle here.
 */
import * as fs from "fs";
import * as path from "path";

/** Where the bundled handler is: `bin/lambda/provisioner.js` of this package. */
export function provisionerCodePath(): string {
    // From bin/core (the package) the bundle is ../lambda; from the sources (ts-node) it is ../bin/lambda.
    const candidates = [
        path.resolve(__dirname, "..", "lambda", "provisioner.js"),
        path.resolve(__dirname, "..", "bin", "lambda", "provisioner.js"),
    ];
    return candidates.find((c) => fs.existsSync(c)) ?? candidates[candidates.length - 1];
}
