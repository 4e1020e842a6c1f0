import * as fs from "fs";
import * as path from "path";

/** Finds the repository root (the pka-fleet package.json) from this file, compiled or not. */
export function packageRoot(): string {
    let dir = __dirname;
    for (let i = 0; i < 6; i++) {
        const p = path.join(dir, "package.json");
        if (fs.existsSync(p) && JSON.parse(fs.readFileSync(p, "utf8")).name === "pka-fleet") return dir;
        dir = path.dirname(dir);
    }
    throw new Error("cannot find the pka-fleet package root");
}
