/**
 * The document's names and fixed values (its parameters, their patterns, its step): what the
 * Lambda needs of the document without its text.
 */
export const DOCUMENT_SCHEMA_VERSION = "2.2";
/** Parameter carrying the access manifest, base64 (the script reads $SSM_AccessSpec). */
export const SPEC_PARAMETER = "AccessSpec";
/** Parameter carrying the manifest's hex sha256 (the script refuses a truncated or altered spec). */
export const SPEC_SHA_PARAMETER = "AccessSpecSha256";
/** Canonical, padded base64; no length bound here because Go's regexp refuses repeat counts over 1000. */
export const SPEC_ALLOWED_PATTERN = "^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";
export const SHA_ALLOWED_PATTERN = "^[0-9a-f]{64}$";
export const STEP_NAME = "configureSshAccess";
export const STEP_TIMEOUT_SECONDS = 300;
