/**
 * The block of ~/.ssh/authorized_keys this package owns: its marker lines and its text for a user.
 */
import { AccessUser } from "./accessSpecTypes";

/** Marker lines around the block of authorized_keys this package owns. */
export const BLOCK_BEGIN = "# BEGIN pka-fleet managed block (do not edit: pka-fleet rewrites it)";
export const BLOCK_END = "# END pka-fleet managed block";

/** The authorized_keys lines of one user, in order. */
export function authorizedKeysLines(user: AccessUser): string[] {
    return user.keys.map((k) => (user.keyOptions ? `${user.keyOptions} ${k}` : k));
}

/** The managed block exactly as the script writes it (markers included, trailing newline). */
export function renderManagedBlock(user: AccessUser): string {
    return [BLOCK_BEGIN, ...authorizedKeysLines(user), BLOCK_END, ""].join("\n");
}
