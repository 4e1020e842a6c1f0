// The stack program that `pulumi up` runs on this repository (Pulumi.yaml `main`).
// It grows into a whole PkaFleet built from stack config.
export {};
